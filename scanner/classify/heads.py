"""The trained parts of the semantic stage: a lexical head, an embedding head and the cross-validated scores that
calibrate them.

Both heads are one L2-regularised logistic regression per trope, fit on the taxonomy's exemplars (positives and
hard negatives) plus the optional training file: the lexical head on TF-IDF words and word pairs
(:mod:`scanner.classify.lexical`), the embedding head on the sentence vectors of the exemplar index. Their
out-of-fold scores (k-fold, stratified, seeded) together with the out-of-fold kNN vote are what the calibration
(:mod:`scanner.classify.embed`) fits its probabilities and thresholds on, so every threshold is chosen on passages
the heads did not see. Fitting is deterministic (lbfgs from zero, a fixed fold assignment), takes a few seconds,
and the fitted heads are cached on disk next to the exemplar index.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scanner.classify.index import knn_vote
from scanner.classify.lexical import MIN_DF, LexicalHead, Vocabulary

log = logging.getLogger(__name__)

HEADS_VERSION = 1
C_LEXICAL = 16.0  # inverse regularisation strengths
C_EMBEDDING = 4.0
FOLDS = 5
SEED = 0


@dataclass(frozen=True, slots=True)
class Heads:
    lexical: LexicalHead
    embedding_coef: np.ndarray  # (dim, tropes)
    embedding_bias: np.ndarray  # (tropes,)

    def embedding_logits(self, vectors: np.ndarray) -> np.ndarray:
        return np.asarray(vectors.astype(np.float64) @ self.embedding_coef + self.embedding_bias)

    def digest(self) -> str:
        """A short hash of the fitted numbers (rounded), recorded by the calibration fit on them."""
        h = hashlib.sha256()
        h.update("\n".join(self.lexical.vocabulary.terms).encode())
        for array in (self.lexical.coef, self.lexical.bias, self.embedding_coef, self.embedding_bias):
            h.update(np.round(array, 4).astype(np.float64).tobytes())
        return h.hexdigest()[:16]

    def save(self, path: Path) -> None:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            terms=np.array(self.lexical.vocabulary.terms, dtype=str),
            idf=self.lexical.vocabulary.idf,
            lexical_coef=self.lexical.coef,
            lexical_bias=self.lexical.bias,
            embedding_coef=self.embedding_coef,
            embedding_bias=self.embedding_bias,
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(buffer.getvalue())
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Heads:
        with np.load(path, allow_pickle=False) as data:
            vocabulary = Vocabulary(tuple(str(t) for t in data["terms"]), data["idf"])
            return cls(
                LexicalHead(vocabulary, data["lexical_coef"], data["lexical_bias"]),
                data["embedding_coef"],
                data["embedding_bias"],
            )


def _logistic(x: object, y: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    """Coefficients and intercept of an L2 logistic regression (a constant label gives a constant logit)."""
    positives = int(y.sum())
    dim = x.shape[1]  # type: ignore[attr-defined]
    if positives in (0, len(y)):
        return np.zeros(dim), (-10.0 if positives == 0 else 10.0)
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=5000, tol=1e-6)
    model.fit(x, y)
    return np.asarray(model.coef_[0], dtype=np.float64), float(model.intercept_[0])


def fit_heads(
    texts: list[str],
    labels: np.ndarray,
    vectors: np.ndarray,
    *,
    c_lexical: float = C_LEXICAL,
    c_embedding: float = C_EMBEDDING,
) -> Heads:
    """Both heads, one column per trope of ``labels`` (rows x tropes, 0/1)."""
    vocabulary = Vocabulary.fit(texts, min_df=MIN_DF)
    matrix = vocabulary.matrix(texts)
    x = vectors.astype(np.float64)
    tropes = labels.shape[1]
    lex_coef = np.zeros((len(vocabulary.terms), tropes))
    lex_bias = np.zeros(tropes)
    emb_coef = np.zeros((x.shape[1], tropes))
    emb_bias = np.zeros(tropes)
    for j in range(tropes):
        y = labels[:, j].astype(int)
        lex_coef[:, j], lex_bias[j] = _logistic(matrix, y, c_lexical)
        emb_coef[:, j], emb_bias[j] = _logistic(x, y, c_embedding)
    return Heads(LexicalHead(vocabulary, lex_coef, lex_bias), emb_coef, emb_bias)


def knn_votes(queries: np.ndarray, base: np.ndarray, base_labels: np.ndarray, *, k: int, power: float) -> np.ndarray:
    """The exemplar index's vote (:func:`knn_vote`) over an exact numpy search of ``base``, for folds."""
    sims = queries @ base.T
    top = np.argsort(-sims, axis=1, kind="stable")[:, : min(k, base.shape[0])]
    return knn_vote(np.take_along_axis(sims, top, axis=1), base_labels[top], power=power)


@dataclass(frozen=True, slots=True)
class OutOfFold:
    """Per row and trope, the scores of models that did not see the row."""

    lexical: np.ndarray  # logits
    embedding: np.ndarray  # logits
    knn: np.ndarray  # votes in [0, 1]
    folds: int


def fold_ids(labels: np.ndarray, folds: int, seed: int = SEED) -> np.ndarray:
    """A fold per row, stratified by each row's label set (rows with the same tropes spread evenly), seeded."""
    rng = np.random.default_rng(seed)
    keys = ["".join("1" if v else "0" for v in row) for row in labels]
    out = np.zeros(len(labels), dtype=np.int64)
    offset = 0
    for key in sorted(set(keys)):
        members = np.array([i for i, k in enumerate(keys) if k == key])
        members = members[rng.permutation(len(members))]
        out[members] = (np.arange(len(members)) + offset) % folds
        offset += len(members)
    return out


def out_of_fold(
    texts: list[str],
    labels: np.ndarray,
    vectors: np.ndarray,
    *,
    k: int,
    power: float,
    folds: int = FOLDS,
    c_lexical: float = C_LEXICAL,
    c_embedding: float = C_EMBEDDING,
) -> OutOfFold:
    """k-fold out-of-fold scores of both heads and of the kNN vote."""
    folds = max(2, min(folds, len(texts)))
    assignment = fold_ids(labels, folds)
    lexical = np.zeros(labels.shape)
    embedding = np.zeros(labels.shape)
    knn = np.zeros(labels.shape)
    for fold in range(folds):
        test = np.flatnonzero(assignment == fold)
        train = np.flatnonzero(assignment != fold)
        if not len(test):
            continue
        heads = fit_heads(
            [texts[i] for i in train], labels[train], vectors[train], c_lexical=c_lexical, c_embedding=c_embedding
        )
        lexical[test] = np.stack([heads.lexical.logits(texts[i]) for i in test])
        embedding[test] = heads.embedding_logits(vectors[test])
        knn[test] = knn_votes(vectors[test], vectors[train], labels[train], k=k, power=power)
        log.info("calibration: fold %d of %d", fold + 1, folds)
    return OutOfFold(lexical, embedding, knn, folds)
