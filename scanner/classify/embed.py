"""The semantic stage: a cheap lexical tier, then the sentence-embedding model for the passages it lets through.

Per passage and trope (formulas in docs/taxonomy.md, "How a passage is scored"):

* the lexical head's logit ``l`` (TF-IDF words and word pairs, :mod:`scanner.classify.lexical`) gives the cheap
  tier's probability ``p_lex = sigmoid(a * l + b)``;
* in the cascade, a passage goes on to the embedding model only when some trope's ``p_lex`` reaches that trope's
  ``escalate`` bound, chosen so that ``escalation_recall`` (default 0.98) of the full stage's cross-validated true
  positives pass it;
* an escalated passage is embedded (in windows that fit the model); per window the embedding head's logit ``e`` and
  the similarity-weighted kNN vote ``v`` of the exemplar index join ``l`` in ``p = sigmoid(w_l*l + w_e*e + w_v*v +
  w_0)``, and the passage takes its best window;
* the label is ``p >= threshold``, the threshold being the lowest probability whose cross-validated precision
  reaches the target (default 0.8). A passage not escalated keeps ``p_lex`` as its score and no semantic label.

Calibration (``tropescan calibrate``) fits the heads' out-of-fold scores over the exemplars (+ training file),
k-fold: ``(a, b)`` and ``w`` by logistic regression on them, then the thresholds and escalation bounds. The result
is a versioned JSON artifact next to the taxonomy, recording the model, the taxonomy hash, the data that fit it
and a digest of the heads; a calibration made for another model, taxonomy or training file is refused.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scanner.classify.encoder import Encoder
from scanner.classify.heads import C_EMBEDDING, C_LEXICAL, FOLDS, HEADS_VERSION, Heads, fit_heads, out_of_fold
from scanner.classify.index import ExemplarIndex
from scanner.errors import ConfigError
from scanner.taxonomy.load import taxonomy_hash
from scanner.taxonomy.schema import Taxonomy

log = logging.getLogger(__name__)

CALIBRATION_VERSION = 2
DEFAULT_K = 10
DEFAULT_POWER = 3.0
DEFAULT_TARGET_PRECISION = 0.8
DEFAULT_ESCALATION_RECALL = 0.98


def _sigmoid(z: np.ndarray | float) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0))))


@dataclass(frozen=True, slots=True)
class TropeCalibration:
    lexical: tuple[float, float]  # p_lex = sigmoid(a * l + b)
    escalate: float  # the p_lex at or above which the cascade embeds the passage
    weights: tuple[float, float, float, float]  # p = sigmoid(w_l * l + w_e * e + w_v * v + w_0)
    threshold: float  # on p
    cv_precision: float | None  # out-of-fold, at the threshold
    cv_recall: float | None
    escalation_recall: float | None  # share of the out-of-fold true positives that pass the escalation bound
    positives: int

    def p_lexical(self, logit: np.ndarray | float) -> np.ndarray:
        a, b = self.lexical
        return _sigmoid(a * np.asarray(logit) + b)

    def probability(self, lexical: np.ndarray, embedding: np.ndarray, vote: np.ndarray) -> np.ndarray:
        w_l, w_e, w_v, w_0 = self.weights
        return _sigmoid(w_l * lexical + w_e * embedding + w_v * vote + w_0)


@dataclass(frozen=True, slots=True)
class Calibration:
    model_id: str
    taxonomy: str
    taxonomy_sha256: str
    k: int
    power: float
    target_precision: float
    escalation_target: float
    folds: int
    c_lexical: float
    c_embedding: float
    heads_sha256: str
    fitted_on: str
    tropes: dict[str, TropeCalibration] = field(default_factory=dict)
    train_sha256: str | None = None  # the --train file the heads and index held, if any
    train_file: str | None = None  # where it was, relative to the calibration file when below its folder's parent
    version: int = CALIBRATION_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        tropes = {
            k: TropeCalibration(**{**v, "lexical": tuple(v["lexical"]), "weights": tuple(v["weights"])})
            for k, v in data["tropes"].items()
        }
        return cls(**{**data, "tropes": tropes})

    def save(self, path: Path) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, *, taxonomy: Taxonomy, model_id: str, train_sha256: str | None = None) -> Calibration:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != CALIBRATION_VERSION:
                raise ConfigError(f"{path}: calibration version {data.get('version')}; run tropescan calibrate")
            calibration = cls.from_json(data)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ConfigError(f"{path}: cannot read the calibration ({exc}); run tropescan calibrate") from exc
        if calibration.taxonomy_sha256 != taxonomy_hash(taxonomy) or calibration.model_id != model_id:
            raise ConfigError(
                f"{path}: made for another taxonomy or model ({calibration.taxonomy_sha256[:12]}, "
                f"{calibration.model_id}); run tropescan calibrate"
            )
        if calibration.train_sha256 != train_sha256:
            raise ConfigError(
                f"{path}: fit with training file {calibration.train_sha256 or 'none'}, used with "
                f"{train_sha256 or 'none'}; pass the same --train, or run tropescan calibrate"
            )
        return calibration


def calibration_path(taxonomy_file: Path) -> Path:
    """``taxonomies/x.yaml`` -> ``taxonomies/x.calibration.json``."""
    return taxonomy_file.with_name(f"{taxonomy_file.stem}.calibration.json")


def logistic_fit(features: np.ndarray, labels: np.ndarray, *, ridge: float = 1e-3) -> np.ndarray:
    """Weights (last one the intercept) of a logistic regression on a few features, by Newton's method with
    Platt's smoothed targets and a small ridge: deterministic."""
    pos = float(labels.sum())
    neg = float(len(labels) - pos)
    target = np.where(labels > 0, (pos + 1) / (pos + 2), 1 / (neg + 2))
    x = np.column_stack([features, np.ones(len(features))]).astype(np.float64)
    w = np.zeros(x.shape[1])
    penalty = ridge * np.eye(x.shape[1])
    penalty[-1, -1] = 1e-9
    for _ in range(100):
        p = _sigmoid(x @ w)
        grad = x.T @ (p - target) + penalty @ w
        hess = (x * (p * (1 - p))[:, None]).T @ x + penalty
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return w


def _threshold(probs: np.ndarray, labels: np.ndarray, target: float) -> tuple[float, float | None, float | None]:
    """The lowest probability whose predictions (prob >= it) reach ``target`` precision; 0.5 if none does."""
    order = np.argsort(-probs, kind="stable")
    tp = np.cumsum(labels[order] > 0)
    n = np.arange(1, len(order) + 1)
    precision = tp / n
    total = max(int((labels > 0).sum()), 1)
    best: tuple[float, float | None, float | None] = (0.5, None, None)
    for i in range(len(order)):
        if i + 1 < len(order) and probs[order[i + 1]] == probs[order[i]]:
            continue  # a threshold cannot split tied probabilities
        if precision[i] >= target:
            best = (float(probs[order[i]]), float(precision[i]), float(tp[i] / total))
    return best


def _escalation_bound(p_lex: np.ndarray, caught: np.ndarray, target: float) -> tuple[float, float | None]:
    """The highest ``p_lex`` bound that at least ``target`` of the ``caught`` rows reach, and the share that do."""
    values = np.sort(p_lex[caught])[::-1]
    if not len(values):
        return 0.0, None
    keep = min(len(values), max(1, math.ceil(target * len(values))))
    bound = float(values[keep - 1])
    return bound, float((values >= bound).mean())


def fit_calibration(
    taxonomy: Taxonomy,
    index: ExemplarIndex,
    *,
    model_id: str,
    k: int = DEFAULT_K,
    power: float = DEFAULT_POWER,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    escalation_recall: float = DEFAULT_ESCALATION_RECALL,
    folds: int = FOLDS,
    train_sha256: str | None = None,
    train_file: str | None = None,
) -> tuple[Calibration, Heads]:
    """Out-of-fold scores of both heads and the kNN vote over the index's rows; per trope the probability
    formulas, the threshold for ``target_precision`` and the escalation bound; and the heads fit on all rows."""
    texts = [row.text for row in index.rows]
    oof = out_of_fold(texts, index.labels, index.vectors, k=k, power=power, folds=folds)
    heads = fit_heads(texts, index.labels, index.vectors)
    tropes: dict[str, TropeCalibration] = {}
    for j, trope in enumerate(index.tropes):
        labels = index.labels[:, j]
        lex = logistic_fit(oof.lexical[:, [j]], labels)
        features = np.column_stack([oof.lexical[:, j], oof.embedding[:, j], oof.knn[:, j]])
        weights = logistic_fit(features, labels)
        probs = _sigmoid(features @ weights[:3] + weights[3])
        threshold, precision, recall = _threshold(probs, labels, target_precision)
        p_lex = _sigmoid(lex[0] * oof.lexical[:, j] + lex[1])
        caught = (labels > 0) & (probs >= threshold)
        escalate, share = _escalation_bound(p_lex, caught, escalation_recall)
        tropes[trope] = TropeCalibration(
            lexical=(round(float(lex[0]), 6), round(float(lex[1]), 6)),
            escalate=round(escalate, 6),
            weights=tuple(round(float(w), 6) for w in weights),  # type: ignore[arg-type]
            threshold=round(max(threshold, 1e-6), 6),
            cv_precision=None if precision is None else round(precision, 4),
            cv_recall=None if recall is None else round(recall, 4),
            escalation_recall=None if share is None else round(share, 4),
            positives=int(labels.sum()),
        )
    with_train = any(r.ref.startswith("train/") for r in index.rows)
    calibration = Calibration(
        model_id=model_id,
        taxonomy=taxonomy.name,
        taxonomy_sha256=taxonomy_hash(taxonomy),
        k=k,
        power=power,
        target_precision=target_precision,
        escalation_target=escalation_recall,
        folds=oof.folds,
        c_lexical=C_LEXICAL,
        c_embedding=C_EMBEDDING,
        heads_sha256=heads.digest(),
        fitted_on=f"{oof.folds}-fold out-of-fold scores over {len(index.rows)} passages (taxonomy exemplars"
        f"{' + training file' if with_train else ''})",
        tropes=tropes,
        train_sha256=train_sha256,
        train_file=train_file,
    )
    return calibration, heads


def load_train(path: Path, taxonomy: Taxonomy) -> tuple[list[tuple[str, str, tuple[str, ...]]], str]:
    """A labelled training file (gold format, written passages) and its sha256."""
    import hashlib

    from scanner.evaluate.gold import load_gold

    items = load_gold(path, known_labels=taxonomy.ids)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return [(it.id, it.text, it.labels) for it in items], digest


@dataclass(frozen=True, slots=True)
class PassageEmbedding:
    """Per trope: the semantic probability (``p`` when embedded, else ``p_lex``), the lexical tier's probability,
    and for the tropes the passage is labelled with, the nearest exemplar carrying the trope (ref, similarity)
    and the words that weighed most. ``embedded`` says whether the passage reached the embedding model."""

    probs: dict[str, float]
    p_lexical: dict[str, float]
    embedded: bool
    nearest: dict[str, tuple[str, float]] = field(default_factory=dict)
    terms: dict[str, list[str]] = field(default_factory=dict)


class EmbedStage:
    """Lexical tier, encoder, exemplar index, embedding head and calibration."""

    def __init__(self, encoder: Encoder, index: ExemplarIndex, calibration: Calibration, heads: Heads) -> None:
        self.encoder = encoder
        self.index = index
        self.calibration = calibration
        self.heads = heads
        self._cals = [calibration.tropes[t] for t in index.tropes]

    def lexical(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Lexical logits and ``p_lex`` (passages x tropes)."""
        if not texts:
            empty = np.zeros((0, len(self._cals)))
            return empty, empty
        logits = np.stack([self.heads.lexical.logits(t) for t in texts])
        probs = np.column_stack([cal.p_lexical(logits[:, j]) for j, cal in enumerate(self._cals)])
        return logits, probs

    def escalates(self, p_lex: np.ndarray) -> np.ndarray:
        """Per passage: does some trope's ``p_lex`` reach its escalation bound?"""
        bounds = np.array([cal.escalate for cal in self._cals])
        return np.asarray((p_lex >= bounds).any(axis=1)) if len(p_lex) else np.zeros(0, dtype=bool)

    def score(self, text: str, spans: list[tuple[int, int]], *, escalate: bool = True) -> list[PassageEmbedding]:
        """One result per span (a passage). With ``escalate`` only the passages the lexical tier passes are
        embedded; without, all are. A passage longer than the model's window is embedded per window and takes
        its best window per trope."""
        return self.score_many([(text, spans, escalate)])[0]

    def score_many(self, items: list[tuple[str, list[tuple[int, int]], bool]]) -> list[list[PassageEmbedding]]:
        """:meth:`score` for several ``(text, spans, escalate)`` at once: every window of every text goes to the
        encoder in one call."""
        lexical = [self.lexical([text[s:e] for s, e in spans]) for text, spans, _ in items]
        chosen = [
            [int(n) for n in (np.flatnonzero(self.escalates(p_lex)) if escalate else range(len(spans)))]
            for (_, spans, escalate), (_, p_lex) in zip(items, lexical, strict=True)
        ]
        ranges = [(text, *spans[n]) for (text, spans, _), picked in zip(items, chosen, strict=True) for n in picked]
        cut, vectors = embed_ranges(self.encoder, ranges)
        prepared: list[_Prepared] = []
        k = 0
        for (logits, p_lex), picked in zip(lexical, chosen, strict=True):
            windows: list[tuple[int, int]] = []
            owner: list[int] = []
            for n in picked:
                windows.extend(cut[k])
                owner.extend([n] * len(cut[k]))
                k += 1
            prepared.append(_Prepared(logits, p_lex, picked, windows, owner))
        out: list[list[PassageEmbedding]] = []
        offset = 0
        for (text, spans, _), p in zip(items, prepared, strict=True):
            mine = vectors[offset : offset + len(p.windows)]
            offset += len(p.windows)
            out.append(self._complete(text, spans, p, mine))
        return out

    def _complete(
        self, text: str, spans: list[tuple[int, int]], p: _Prepared, vectors: np.ndarray
    ) -> list[PassageEmbedding]:
        probs = p.p_lex.copy()
        best_window = np.full((len(spans), len(self._cals)), -1)
        if p.windows:
            emb = self.heads.embedding_logits(vectors)
            votes, _ = self.index.knn_scores(vectors, k=self.calibration.k, power=self.calibration.power)
            rows = np.array(p.owner)
            for j, cal in enumerate(self._cals):
                window_p = cal.probability(p.logits[rows, j], emb[:, j], votes[:, j])
                for n in p.chosen:  # the passage's best window
                    mine = np.flatnonzero(rows == n)
                    w = int(mine[np.argmax(window_p[mine])])
                    probs[n, j] = window_p[w]
                    best_window[n, j] = w
        out: list[PassageEmbedding] = []
        embedded = set(p.chosen)
        for n, (start, end) in enumerate(spans):
            result = PassageEmbedding(
                probs={t: round(float(probs[n, j]), 4) for j, t in enumerate(self.index.tropes)},
                p_lexical={t: round(float(p.p_lex[n, j]), 4) for j, t in enumerate(self.index.tropes)},
                embedded=n in embedded,
            )
            for j, (trope, cal) in enumerate(zip(self.index.tropes, self._cals, strict=True)):
                if result.embedded and probs[n, j] >= cal.threshold:
                    result.nearest[trope] = self.index.nearest_carrying(vectors[best_window[n, j]], j)
                    result.terms[trope] = self.heads.lexical.top_terms(text[start:end], j)
            out.append(result)
        return out


@dataclass(frozen=True, slots=True)
class _Prepared:
    """One text between the lexical tier and the encoder."""

    logits: np.ndarray  # lexical logits, passages x tropes
    p_lex: np.ndarray
    chosen: list[int]  # the passages to embed
    windows: list[tuple[int, int]]  # their windows, in order
    owner: list[int]  # the passage of each window


def embed_ranges(
    encoder: Encoder, ranges: list[tuple[str, int, int]]
) -> tuple[list[list[tuple[int, int]]], np.ndarray]:
    """Each ``(text, start, end)`` cut into the encoder's windows (at least one; spans into ``text``) and the
    windows' vectors, in range then window order: in one call where the encoder offers ``encode_ranges``."""
    many = getattr(encoder, "encode_ranges", None)
    if many is not None:
        relative, vectors = many([text[start:end] for text, start, end in ranges])
        cut = [
            [(start + lo, start + hi) for lo, hi in spans]
            for (_, start, _), spans in zip(ranges, relative, strict=True)
        ]
        return cut, vectors
    cut = [encoder.windows(text, start, end) or [(start, end)] for text, start, end in ranges]
    texts = [text[s:e] for (text, _, _), spans in zip(ranges, cut, strict=True) for s, e in spans]
    vectors = encoder.encode(texts) if texts else np.zeros((0, encoder.dim), dtype=np.float32)
    return cut, vectors


def default_cache_dir() -> Path:
    """``$TROPESCAN_CACHE``, else ``$XDG_CACHE_HOME/tropescan``, else ``~/.cache/tropescan``."""
    if os.environ.get("TROPESCAN_CACHE"):
        return Path(os.environ["TROPESCAN_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "tropescan"


def heads_cache_path(index: ExemplarIndex, cache_dir: Path) -> Path:
    """Where the heads fit on ``index`` are cached: keyed by the index (taxonomy, model, training data) and the
    heads' settings."""
    import hashlib

    key = hashlib.sha256(f"heads v{HEADS_VERSION} {index.key} {C_LEXICAL} {C_EMBEDDING}".encode()).hexdigest()[:24]
    return cache_dir / "heads" / f"{key}.npz"


def load_heads(index: ExemplarIndex, cache_dir: Path | None) -> Heads:
    """The heads fit on the index's rows: from the cache when there, else fit (seconds) and cached."""
    path = heads_cache_path(index, cache_dir) if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            return Heads.load(path)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("heads cache %s unreadable (%s): refitting", path, exc)
    heads = fit_heads([row.text for row in index.rows], index.labels, index.vectors)
    if path is not None:
        heads.save(path)
    return heads


def build_embed_stage(
    taxonomy: Taxonomy,
    taxonomy_file: Path,
    *,
    model: str | None = None,
    device: str = "auto",
    batch_size: int = 64,
    cache_dir: Path | None = None,
    calibration_file: Path | None = None,
    encoder: Encoder | None = None,
    train_file: Path | None = None,
) -> EmbedStage:
    """Encoder, exemplar index and heads (cached; with the ``train_file`` passages when given) and the
    calibration stored next to the taxonomy (or ``calibration_file``)."""
    from scanner.classify.encoder import SentenceTransformerEncoder

    path = calibration_file or calibration_path(taxonomy_file)
    if not path.is_file():  # checked first: building the index means loading the model
        raise ConfigError(f"{path}: no calibration for this taxonomy; run tropescan calibrate")
    if train_file is None:  # the training file the calibration was fit with, if it is still where it was
        recorded = json.loads(path.read_text(encoding="utf-8")).get("train_file")
        if recorded:
            candidate = (path.parent / recorded).resolve()
            if not candidate.is_file():
                raise ConfigError(f"{path}: fit with the training file {candidate}, which is missing; pass --train")
            train_file = candidate
    train, train_sha = load_train(train_file, taxonomy) if train_file is not None else (None, None)
    enc = encoder or SentenceTransformerEncoder(model, device=device, batch_size=batch_size)
    calibration = Calibration.load(path, taxonomy=taxonomy, model_id=enc.model_id, train_sha256=train_sha)
    cache = cache_dir or default_cache_dir()
    index = ExemplarIndex.build(taxonomy, enc, cache_dir=cache / "index", train=train)
    heads = load_heads(index, cache)
    if heads.digest() != calibration.heads_sha256:
        log.warning(
            "%s: the heads refit here differ from those the calibration was fit with (another scikit-learn or "
            "model build?); thresholds may be off: run tropescan calibrate",
            path,
        )
    return EmbedStage(enc, index, calibration, heads)


def relative_train_path(train_file: Path, calibration_file: Path) -> str:
    """How a calibration records its training file: relative to the calibration's folder (portable across
    checkouts), else absolute."""
    try:
        return os.path.relpath(train_file.resolve(), calibration_file.resolve().parent)
    except ValueError:  # another drive on Windows
        return str(train_file.resolve())
