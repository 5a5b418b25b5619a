"""The embedding stage: passages are embedded (in windows that fit the model), their nearest exemplars vote for
tropes, and a per-trope calibration turns the vote into a probability and a label.

Calibration (``tropescan calibrate``) is fit on the exemplars themselves, leave-one-out: each exemplar is scored
by its neighbours without itself, a one-feature logistic regression (Platt scaling) maps the vote to a probability
per trope, and the threshold is the lowest probability at which the leave-one-out precision reaches the target
(default 0.8). The result is a versioned JSON artifact next to the taxonomy, recording the model, the taxonomy
hash and the data that fit it; a calibration made for another model or taxonomy is refused.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scanner.classify.encoder import Encoder
from scanner.classify.index import ExemplarIndex
from scanner.errors import ConfigError
from scanner.taxonomy.load import taxonomy_hash
from scanner.taxonomy.schema import Taxonomy

CALIBRATION_VERSION = 1
DEFAULT_K = 10
DEFAULT_POWER = 3.0
DEFAULT_TARGET_PRECISION = 0.8


@dataclass(frozen=True, slots=True)
class TropeCalibration:
    a: float  # probability = sigmoid(a * vote + b)
    b: float
    threshold: float  # on the probability
    loo_precision: float | None
    loo_recall: float | None
    positives: int

    def probability(self, vote: np.ndarray) -> np.ndarray:
        z = np.clip(self.a * vote + self.b, -30.0, 30.0)
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float32)


@dataclass(frozen=True, slots=True)
class Calibration:
    model_id: str
    taxonomy: str
    taxonomy_sha256: str
    k: int
    power: float
    target_precision: float
    fitted_on: str
    tropes: dict[str, TropeCalibration] = field(default_factory=dict)
    train_sha256: str | None = None  # the --train file the index held, if any
    train_file: str | None = None  # where it was, relative to the calibration file when below its folder's parent
    version: int = CALIBRATION_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        tropes = {k: TropeCalibration(**v) for k, v in data["tropes"].items()}
        return cls(**{**data, "tropes": tropes})

    def save(self, path: Path) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, *, taxonomy: Taxonomy, model_id: str, train_sha256: str | None = None) -> Calibration:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            calibration = cls.from_json(data)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ConfigError(f"{path}: cannot read the calibration ({exc}); run tropescan calibrate") from exc
        if calibration.version != CALIBRATION_VERSION:
            raise ConfigError(f"{path}: calibration version {calibration.version}; run tropescan calibrate")
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


def _platt(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """One-feature logistic regression by Newton's method (with Platt's smoothed targets): deterministic."""
    pos = float(labels.sum())
    neg = float(len(labels) - pos)
    target = np.where(labels > 0, (pos + 1) / (pos + 2), 1 / (neg + 2))
    x = np.stack([scores, np.ones_like(scores)], axis=1).astype(np.float64)
    w = np.zeros(2)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        grad = x.T @ (p - target) + 1e-6 * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + 1e-6 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


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


def fit_calibration(
    taxonomy: Taxonomy,
    index: ExemplarIndex,
    *,
    model_id: str,
    k: int = DEFAULT_K,
    power: float = DEFAULT_POWER,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    train_sha256: str | None = None,
    train_file: str | None = None,
) -> Calibration:
    """Leave-one-out kNN votes over the index's own rows, Platt scaling and a threshold per trope."""
    sims, ids = index.search(index.vectors, k + 1)
    own = ids == np.arange(len(ids))[:, None]
    # drop each row's own entry (or the last neighbour when the row is not among its k+1 nearest)
    keep = ~own
    keep[~own.any(axis=1), -1] = False
    sims = sims[keep].reshape(len(ids), k)
    ids = ids[keep].reshape(len(ids), k)
    weights = np.maximum(sims, 0.0) ** power
    votes = (weights[:, :, None] * index.labels[ids]).sum(axis=1) / np.maximum(weights.sum(1, keepdims=True), 1e-9)
    tropes: dict[str, TropeCalibration] = {}
    for j, trope in enumerate(index.tropes):
        labels = index.labels[:, j]
        a, b = _platt(votes[:, j], labels)
        probs = 1.0 / (1.0 + np.exp(-np.clip(a * votes[:, j] + b, -30, 30)))
        threshold, precision, recall = _threshold(probs, labels, target_precision)
        tropes[trope] = TropeCalibration(
            a=round(a, 6),
            b=round(b, 6),
            threshold=round(max(threshold, 1e-6), 6),
            loo_precision=None if precision is None else round(precision, 4),
            loo_recall=None if recall is None else round(recall, 4),
            positives=int(labels.sum()),
        )
    return Calibration(
        model_id=model_id,
        taxonomy=taxonomy.name,
        taxonomy_sha256=taxonomy_hash(taxonomy),
        k=k,
        power=power,
        target_precision=target_precision,
        fitted_on=f"leave-one-out kNN votes over {len(index.rows)} indexed passages (taxonomy exemplars"
        f"{' + training file' if any(r.ref.startswith('train/') for r in index.rows) else ''})",
        tropes=tropes,
        train_sha256=train_sha256,
        train_file=train_file,
    )


def load_train(path: Path, taxonomy: Taxonomy) -> tuple[list[tuple[str, str, tuple[str, ...]]], str]:
    """A labelled training file (gold format, written passages) and its sha256."""
    import hashlib

    from scanner.evaluate.gold import load_gold

    items = load_gold(path, known_labels=taxonomy.ids)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return [(it.id, it.text, it.labels) for it in items], digest


@dataclass(frozen=True, slots=True)
class PassageEmbedding:
    """Per trope: the calibrated probability, and the nearest exemplar carrying the trope with its similarity."""

    probs: dict[str, float]
    nearest: dict[str, tuple[str, float]]


class EmbedStage:
    """Encoder + exemplar index + calibration."""

    def __init__(self, encoder: Encoder, index: ExemplarIndex, calibration: Calibration) -> None:
        self.encoder = encoder
        self.index = index
        self.calibration = calibration

    def score(self, text: str, spans: list[tuple[int, int]]) -> list[PassageEmbedding]:
        """One result per span (a passage); a passage longer than the model's window is scored per window and
        takes the best window per trope."""
        windows: list[tuple[int, int]] = []
        owner: list[int] = []
        for n, (start, end) in enumerate(spans):
            for window in self.encoder.windows(text, start, end) or [(start, end)]:
                windows.append(window)
                owner.append(n)
        if not windows:
            return []
        vectors = self.encoder.encode([text[s:e] for s, e in windows])
        votes, nearest = self.index.knn_scores(vectors, k=self.calibration.k, power=self.calibration.power)
        sims = vectors @ self.index.vectors.T if len(self.index.rows) <= 200_000 else None
        out: list[PassageEmbedding] = [PassageEmbedding({}, {}) for _ in spans]
        for j, trope in enumerate(self.index.tropes):
            cal = self.calibration.tropes[trope]
            probs = cal.probability(votes[:, j])
            for w, n in enumerate(owner):
                p = float(probs[w])
                if p > out[n].probs.get(trope, -1.0):
                    out[n].probs[trope] = round(p, 4)
                    row = int(nearest[w, j])
                    if row >= 0:
                        sim = float(sims[w, row]) if sims is not None else math.nan
                        out[n].nearest[trope] = (self.index.rows[row].ref, round(sim, 4))
                    else:
                        out[n].nearest.pop(trope, None)
        return out


def default_cache_dir() -> Path:
    """``$TROPESCAN_CACHE``, else ``$XDG_CACHE_HOME/tropescan``, else ``~/.cache/tropescan``."""
    import os

    if os.environ.get("TROPESCAN_CACHE"):
        return Path(os.environ["TROPESCAN_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "tropescan"


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
    """Encoder, exemplar index (cached; with the ``train_file`` passages when given) and the calibration stored
    next to the taxonomy (or ``calibration_file``)."""
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
    index = ExemplarIndex.build(taxonomy, enc, cache_dir=(cache_dir or default_cache_dir()) / "index", train=train)
    return EmbedStage(enc, index, calibration)


def relative_train_path(train_file: Path, calibration_file: Path) -> str:
    """How a calibration records its training file: relative to the calibration's folder (portable across
    checkouts), else absolute."""
    try:
        return os.path.relpath(train_file.resolve(), calibration_file.resolve().parent)
    except ValueError:  # another drive on Windows
        return str(train_file.resolve())
