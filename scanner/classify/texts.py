"""Classify standalone texts (the ``classify`` and ``eval`` interface): one result per text, every trope scored.

A text is segmented into passages exactly as a scanned document is, and gets a label when any passage does.
``scores`` holds every trope id: the best passage score, or 0.0 when no candidate sentence was found.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from scanner.classify.classifier import Classifier
from scanner.config import SegmentConfig
from scanner.data import Document
from scanner.extract.segment import segment

BLOCK = 64  # texts classified together (their embedded passages share encoder batches)


@dataclass(frozen=True, slots=True)
class TextResult:
    id: str
    labels: list[str]
    scores: dict[str, float]
    evidence: list[dict[str, Any]]
    genre: str | None
    genre_score: float | None
    tiers: dict[str, int] = field(default_factory=dict)  # passages that reached each tier (Classified.tiers)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "labels": self.labels,
            "scores": self.scores,
            "evidence": self.evidence,
            "genre": self.genre,
            "genre_score": self.genre_score,
        }


def classify_texts(
    classifier: Classifier,
    items: Iterable[tuple[str, str]],
    *,
    segment_config: SegmentConfig | None = None,
    is_book: bool | Iterable[bool] = False,
) -> Iterator[TextResult]:
    """Classify ``(id, text)`` pairs, in order. ``is_book`` (one flag, or one per item) gives the genre model the
    prior of a book, as a scan of a book file does."""
    books = itertools.repeat(is_book) if isinstance(is_book, bool) else iter(is_book)
    seg = segment_config or SegmentConfig()
    block: list[Document] = []
    for n, ((text_id, text), book) in enumerate(zip(items, books, strict=False)):  # books may be endless
        doc = Document(
            doc_id=text_id,
            source_path="<classify>",
            record_index=n,
            byte_offset=None,
            shard="classify",
            dataset="classify",
            format="text" if book else "jsonl",
            text=text,
        )
        doc.passages = segment(text, min_chars=seg.min_chars, max_chars=seg.max_chars)
        block.append(doc)
        if len(block) >= BLOCK:
            yield from _results(classifier, block)
            block = []
    yield from _results(classifier, block)


def _results(classifier: Classifier, docs: list[Document]) -> Iterator[TextResult]:
    ids = classifier.taxonomy.ids
    for doc, result in zip(docs, classifier.classify_many(docs) if docs else [], strict=True):
        evidence = [
            {
                "trope": hit.trope,
                "start": hit.start,
                "end": hit.end,
                "stage": hit.stage,
                "score": hit.score,
                "detail": hit.evidence,
            }
            for hit in result.labels.hits
        ]
        labelled = {hit.trope for hit in result.labels.hits}
        labels = [t for t in ids if t in labelled]
        scores = {t: result.scores.get(t, 0.0) for t in ids}
        yield TextResult(
            doc.doc_id, labels, scores, evidence, result.labels.genre, result.labels.genre_score, dict(result.tiers)
        )
