"""Per-trope prevalence change between two scans (before and after filtering, or two datasets), with intervals.

Each scan's document rate is a proportion with a Wilson interval; the change ``rate_b - rate_a`` gets Newcombe's
hybrid score interval (method 10 of Newcombe 1998), which combines the two Wilson intervals and, unlike the simple
Wald interval, behaves at rates near zero, where tropes live. The same for the deduplicated rates (clusters).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from scanner import __version__
from scanner.aggregate.report import build_report
from scanner.evaluate.metrics import wilson

COMPARE_VERSION = 1


def load_or_build(results: Path) -> dict[str, Any]:
    """A scan's ``report.json``, built from its store when missing."""
    import json

    path = results / "report.json"
    if path.is_file():
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data
    return build_report(results)


def newcombe(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float] | None:
    """95% interval of ``x2/n2 - x1/n1`` (Newcombe's hybrid score)."""
    w1, w2 = wilson(x1, n1), wilson(x2, n2)
    if w1 is None or w2 is None:
        return None
    p1, p2 = x1 / n1, x2 / n2
    d = p2 - p1
    lower = d - math.sqrt((p2 - w2[0]) ** 2 + (w1[1] - p1) ** 2)
    upper = d + math.sqrt((w2[1] - p2) ** 2 + (p1 - w1[0]) ** 2)
    return lower, upper


def _side(count: int | None, total: int | None) -> dict[str, Any]:
    rate = count / total if count is not None and total else None
    interval = wilson(count, total) if count is not None and total else None
    return {
        "docs": count,
        "of": total,
        "per_million": None if rate is None else round(1e6 * rate, 1),
        "ci95": None if interval is None else [round(1e6 * interval[0], 1), round(1e6 * interval[1], 1)],
    }


def _change(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    if a["docs"] is None or b["docs"] is None or not a["of"] or not b["of"]:
        return {"per_million": None, "ci95": None, "ratio": None, "significant": None}
    interval = newcombe(a["docs"], a["of"], b["docs"], b["of"])
    assert interval is not None
    rate_a, rate_b = a["docs"] / a["of"], b["docs"] / b["of"]
    return {
        "per_million": round(1e6 * (rate_b - rate_a), 1),
        "ci95": [round(1e6 * interval[0], 1), round(1e6 * interval[1], 1)],
        "ratio": round(rate_b / rate_a, 4) if rate_a else None,
        "significant": not (interval[0] <= 0.0 <= interval[1]),
    }


def compare_reports(a: dict[str, Any], b: dict[str, Any], *, names: tuple[str, str] = ("a", "b")) -> dict[str, Any]:
    """Per trope (union of both taxonomies, ``a``'s order first): both sides' rates and the change, raw and
    deduplicated."""
    tropes = list(a["tropes"]) + [t for t in b["tropes"] if t not in a["tropes"]]
    out: dict[str, Any] = {}
    for trope in tropes:
        ta, tb = a["tropes"].get(trope), b["tropes"].get(trope)
        raw_a = _side(ta["docs"] if ta else None, a["totals"]["docs"])
        raw_b = _side(tb["docs"] if tb else None, b["totals"]["docs"])
        dedup_a = _side(ta["docs_dedup"] if ta else None, a["totals"].get("clusters"))
        dedup_b = _side(tb["docs_dedup"] if tb else None, b["totals"].get("clusters"))
        out[trope] = {
            "raw": {names[0]: raw_a, names[1]: raw_b, "change": _change(raw_a, raw_b)},
            "dedup": {names[0]: dedup_a, names[1]: dedup_b, "change": _change(dedup_a, dedup_b)},
        }
    return {
        "compare_version": COMPARE_VERSION,
        "tropescan_version": __version__,
        "scans": {names[0]: _about(a), names[1]: _about(b)},
        "same_taxonomy": (a.get("taxonomy") or {}).get("taxonomy_sha256")
        == (b.get("taxonomy") or {}).get("taxonomy_sha256"),
        "tropes": out,
    }


def _about(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "docs": report["totals"]["docs"],
        "clusters": report["totals"].get("clusters"),
        "taxonomy": report.get("taxonomy"),
        "stage": report.get("stage"),
    }
