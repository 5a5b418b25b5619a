"""Run a classifier over gold files and compute the report ``tropescan eval`` prints."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scanner import __version__
from scanner.classify.classifier import Classifier
from scanner.classify.texts import TextResult, classify_texts
from scanner.evaluate.gold import GoldItem, load_gold
from scanner.evaluate.metrics import evaluate


def run_eval(
    classifier: Classifier, gold_files: Sequence[str | Path], *, refs_root: str | Path | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The eval report (JSON-ready) and one prediction row per gold item."""
    tropes = classifier.taxonomy.ids
    items: list[GoldItem] = []
    for path in gold_files:
        items.extend(load_gold(path, known_labels=tropes, refs_root=refs_root))
    # Passages referenced in a book are classified with the book prior on genre, as a scan of the book would.
    books = [bool(it.source and it.source.endswith(".txt")) for it in items]
    results = list(classify_texts(classifier, ((it.id, it.text) for it in items), is_book=books))
    report = evaluate(
        tropes,
        [it.labels for it in items],
        [r.labels for r in results],
        gold_genres=[it.genre for it in items],
        predicted_genres=[r.genre for r in results],
    )
    report["misses_by_tier"] = misses_by_tier(classifier, items, results)
    report = {
        "gold": [str(p) for p in gold_files],
        "classifier": classifier.describe(),
        "stage": classifier.stage,
        "tropescan_version": __version__,
        **report,
    }
    rows = [
        {"id": it.id, "gold": list(it.labels), "predicted": r.labels, "scores": r.scores, "genre": r.genre}
        for it, r in zip(items, results, strict=True)
    ]
    return report, rows


def misses_by_tier(classifier: Classifier, items: Sequence[GoldItem], results: Sequence[TextResult]) -> dict[str, Any]:
    """Per trope, where its gold positives were lost: ``gate`` (no passage holds an AI-entity cue, so neither the
    rules nor, with the gate on, the embedding model looked at it), ``lexical`` (the cascade's lexical tier embedded
    none of its passages) or ``model`` (scored, below threshold); ``found`` are the true positives. Each loss as a
    share of the trope's positives is the recall that tier costs."""
    out: dict[str, Any] = {}
    semantic = classifier.stage != "rules"
    for trope in classifier.taxonomy.ids:
        counts = {"positives": 0, "found": 0, "gate": 0, "lexical": 0, "model": 0}
        for item, result in zip(items, results, strict=True):
            if trope not in item.labels:
                continue
            counts["positives"] += 1
            if trope in result.labels:
                counts["found"] += 1
            elif result.tiers.get("gated", 0) == 0 and (classifier.gate or not semantic):
                counts["gate"] += 1
            elif semantic and result.tiers.get("embedded", 0) == 0:
                counts["lexical"] += 1
            else:
                counts["model"] += 1
        n = max(counts["positives"], 1)
        out[trope] = {**counts, **{f"recall_lost_{k}": round(counts[k] / n, 4) for k in ("gate", "lexical", "model")}}
    return out
