"""Error-adjusted prevalence: classify-and-count corrected by the classifier's measured precision and recall.

For a trope, ``observed`` documents of ``n`` carry a label; a share ``precision`` of labels is right and a share
``recall`` of the true cases is labelled, so the true count is about ``observed * precision / recall``. The
interval carries three uncertainties at once: the observed rate (Jeffreys Beta over the documents), precision
(Beta over the eval's true and false positives) and recall (Beta over its true positives and misses). It is the
2.5-97.5 percentile range of the adjusted rate over ``DRAWS`` seeded draws, so the same inputs give the same
interval.

Caveats written into the report: the eval measures passages, the report counts documents; and the correction
holds only as far as the eval's text resembles the corpus (docs/quality.md: precision measured on written
passages does not carry over to real prose).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from scanner.errors import ConfigError

DRAWS = 20_000
SEED = 20261127


def load_eval(path: Path) -> dict[str, Any]:
    """An ``tropescan eval --json`` file, checked to hold per-trope counts."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the eval JSON: {exc}") from exc
    per = data.get("per_trope") if isinstance(data, dict) else None
    if not isinstance(per, dict) or not all(
        isinstance(v, dict) and {"tp", "fp", "fn"} <= v.keys() for v in per.values()
    ):
        raise ConfigError(f"{path}: not the output of tropescan eval --json (no per_trope tp/fp/fn counts)")
    checked: dict[str, Any] = data
    checked["_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return checked


def adjusted_rate(observed: int, n: int, tp: int, fp: int, fn: int) -> dict[str, Any]:
    """The adjusted document rate (per million) with its 95% interval, or why there is none."""
    base: dict[str, Any] = {"eval_tp": tp, "eval_fp": fp, "eval_fn": fn}
    if n == 0:
        return {**base, "per_million_docs": None, "ci95": None, "why_none": "no documents"}
    if tp == 0:
        return {**base, "per_million_docs": None, "ci95": None, "why_none": "no true positives in the eval"}
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    point = min(1.0, observed / n * precision / recall)
    rng = np.random.default_rng(SEED)
    rate = rng.beta(observed + 0.5, n - observed + 0.5, DRAWS)
    p = rng.beta(tp + 0.5, fp + 0.5, DRAWS)
    r = rng.beta(tp + 0.5, fn + 0.5, DRAWS)
    draws = np.minimum(1.0, rate * p / r)
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return {
        **base,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "per_million_docs": round(1e6 * point, 1),
        "ci95": [round(1e6 * float(lo), 1), round(1e6 * float(hi), 1)],
    }
