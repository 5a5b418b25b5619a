"""The semantic stage: a cheap lexical tier, then the sentence-embedding model for the passages it lets through.

Per passage and trope (docs/taxonomy.md, "The semantic stage, and how the cascade fuses it with the rules"):

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

The numbers come from the calibration (:mod:`scanner.classify.calibration`, ``tropescan calibrate``).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scanner.classify.calibration import Calibration, calibration_path
from scanner.classify.encoder import Encoder
from scanner.classify.heads import C_EMBEDDING, C_LEXICAL, HEADS_VERSION, Heads, fit_heads
from scanner.classify.index import ExemplarIndex
from scanner.errors import ConfigError
from scanner.taxonomy.schema import Taxonomy

log = logging.getLogger(__name__)


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
            votes = self.index.knn_scores(vectors, k=self.calibration.k, power=self.calibration.power)
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
