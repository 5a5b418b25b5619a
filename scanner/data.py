"""The one record type every stage sees.

A reader yields one :class:`Document` per input record, including records it could not or would not read:
those carry a ``skip_reason`` (and an empty text), so that every record is accounted for downstream
(``records_read + records_skipped == records_total``). Documents are never mutated after segmentation;
later stages attach :class:`Hit` labels that point into the document text by character offsets.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Passage:
    """A span of a document's text: ``text[start:end]``. Offsets are Python string indices (code points).

    Treat as immutable (not frozen only because frozen dataclasses are several times slower to create, and a
    crawl creates hundreds of millions of these).
    """

    index: int
    start: int
    end: int


@dataclass(slots=True)
class Document:
    """One input record with its provenance.

    ``record_index`` is the 0-based position of the record in its file (every WARC record counts, including
    warcinfo and request records). ``byte_offset`` is where the record starts: in the compressed file for
    per-record-gzip WARC/WET (the offset Common Crawl's index gives), in the decompressed stream otherwise;
    ``line`` is the 1-based line number for JSON Lines, and the row number for Parquet is ``record_index``.
    """

    doc_id: str
    source_path: str
    record_index: int
    byte_offset: int | None
    shard: str
    dataset: str
    format: str
    text: str = ""
    line: int | None = None
    record_id: str | None = None
    url: str | None = None
    domain: str | None = None
    crawl_date: str | None = None
    title: str | None = None
    author: str | None = None
    language: str | None = None
    skip_reason: str | None = None
    skip_detail: str | None = None
    warnings: list[str] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)

    @property
    def skipped(self) -> bool:
        return self.skip_reason is not None

    @property
    def n_chars(self) -> int:
        return len(self.text)


@dataclass(slots=True, frozen=True)
class Hit:
    """One (passage, trope) label with its evidence. Written to ``hits/<shard>.parquet``."""

    doc_id: str
    start: int
    end: int
    trope: str
    score: float
    stage: str
    evidence: str


@dataclass(slots=True)
class DocLabels:
    """What classification adds to one document: its genre and its hits (labels with evidence).

    ``ai_cue`` says whether the document holds an AI-entity cue (the gate); ``genre_score`` is P(fiction).
    """

    genre: str | None = None
    genre_score: float | None = None
    ai_cue: bool | None = None
    hits: list[Hit] = field(default_factory=list)
