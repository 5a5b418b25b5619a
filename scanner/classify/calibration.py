"""The semantic stage's calibration: the artifact ``tropescan calibrate`` writes next to a taxonomy, and how it is fit.

Out-of-fold scores of the lexical head, the embedding head and the kNN vote (:mod:`scanner.classify.heads`) over
the exemplars (+ training file) fit, per trope, ``p_lex = sigmoid(a*l + b)`` and ``p = sigmoid(w_l*l + w_e*e +
w_v*v + w_0)`` (logistic regression by Newton's method), the threshold on ``p`` for the target precision and the
escalation bound on ``p_lex``. The artifact is versioned JSON recording the model, the taxonomy hash, the training
file (path and sha256), the settings and a digest of the heads; a calibration made for another model, taxonomy or
training file is refused.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scanner.classify.heads import C_EMBEDDING, C_LEXICAL, FOLDS, Heads, fit_heads, out_of_fold
from scanner.classify.index import ExemplarIndex
from scanner.errors import ConfigError
from scanner.store.atomic import write_atomic
from scanner.taxonomy.load import taxonomy_hash
from scanner.taxonomy.schema import Taxonomy

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
        write_atomic(path, json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")

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
