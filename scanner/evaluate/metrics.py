"""Precision, recall and F1 per trope with Wilson 95% intervals, micro/macro F1, any-trope detection,
the most frequent confusions, and genre accuracy."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

Z95 = 1.959963984540054
NONE = "none"


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion (None when n is 0)."""
    if n == 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))


def _prf(tp: int, fp: int, fn: int) -> dict[str, Any]:
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    f = 2 * p * r / (p + r) if p is not None and r is not None and p + r > 0 else (0.0 if tp + fp and tp + fn else None)
    return {
        "precision": None if p is None else round(p, 4),
        "recall": None if r is None else round(r, 4),
        "f1": None if f is None else round(f, 4),
        "precision_ci95": wilson(tp, tp + fp),
        "recall_ci95": wilson(tp, tp + fn),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "support": tp + fn,
    }


def evaluate(
    tropes: Sequence[str],
    gold: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
    *,
    gold_genres: Sequence[str | None] | None = None,
    predicted_genres: Sequence[str | None] | None = None,
    top_confusions: int = 15,
) -> dict[str, Any]:
    """All the numbers ``tropescan eval`` prints and writes. ``gold``/``predicted`` are label lists per item."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    per: dict[str, dict[str, int]] = {t: {"tp": 0, "fp": 0, "fn": 0} for t in tropes}
    confusions: Counter[tuple[str, str]] = Counter()
    any_tp = any_fp = any_fn = 0
    exact = 0
    for g_labels, p_labels in zip(gold, predicted, strict=True):
        g, p = set(g_labels), set(p_labels)
        exact += g == p
        for t in tropes:
            if t in g and t in p:
                per[t]["tp"] += 1
            elif t in p:
                per[t]["fp"] += 1
            elif t in g:
                per[t]["fn"] += 1
        missed, extra = sorted(g - p), sorted(p - g)
        for m in missed:
            for e in extra or [NONE]:
                confusions[(m, e)] += 1
        if not missed:
            for e in extra:
                confusions[(NONE, e)] += 1
        any_tp += bool(g) and bool(p)
        any_fp += not g and bool(p)
        any_fn += bool(g) and not p
    per_trope = {t: _prf(**c) for t, c in per.items()}
    tp = sum(c["tp"] for c in per.values())
    fp = sum(c["fp"] for c in per.values())
    fn = sum(c["fn"] for c in per.values())
    scored = [m["f1"] for m in per_trope.values() if m["support"] > 0]
    out: dict[str, Any] = {
        "n": len(gold),
        "exact_match": round(exact / len(gold), 4) if gold else None,
        "per_trope": per_trope,
        "micro": _prf(tp, fp, fn),
        "macro_f1": round(sum(f or 0.0 for f in scored) / len(scored), 4) if scored else None,
        "macro_over": len(scored),
        "any_trope": _prf(any_tp, any_fp, any_fn),
        "confusions": [
            {"gold": g, "predicted": p, "count": c}
            for (g, p), c in sorted(confusions.items(), key=lambda kv: (-kv[1], kv[0]))[:top_confusions]
        ],
    }
    if gold_genres is not None and predicted_genres is not None:
        pairs = [(g, p) for g, p in zip(gold_genres, predicted_genres, strict=True) if g is not None]
        if pairs:
            correct = sum(g == p for g, p in pairs)
            out["genre"] = {
                "n": len(pairs),
                "accuracy": round(correct / len(pairs), 4),
                "accuracy_ci95": wilson(correct, len(pairs)),
                "confusion": {f"{g}->{p}": c for (g, p), c in sorted(Counter(pairs).items())},
            }
    return out
