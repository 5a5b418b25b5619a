"""Run a classifier over gold files and compute the report ``tropescan eval`` prints."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scanner import __version__
from scanner.classify.classifier import Classifier
from scanner.classify.texts import classify_texts
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
