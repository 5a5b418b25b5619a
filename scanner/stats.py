"""Per-file and per-scan record accounting: ``records_read + records_skipped == records_total``, always."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from scanner.data import DocLabels, Document

# Skip reasons that mean the input is damaged (as opposed to records that hold no page text by design,
# such as WARC request records or non-HTML responses). A named input with only damaged records fails the run.
DAMAGE_REASONS = frozenset(
    {
        "truncated_gzip",
        "corrupt_gzip",
        "corrupt_zstd",
        "truncated_zstd",
        "truncated",
        "unreadable",
        "truncated_record",
        "malformed_warc_header",
        "bad_content_length",
        "malformed_http",
        "invalid_json",
        "corrupt_row_group",
    }
)


@dataclass(slots=True)
class FileStats:
    source: str
    key: str
    shard: str
    dataset: str
    named: bool
    size: int | None
    format: str | None = None
    status: str = "ok"  # ok | refused | unreadable | missing | failed
    message: str | None = None
    sha256: str | None = None
    records_total: int = 0
    records_read: int = 0
    records_skipped: int = 0
    chars: int = 0
    passages: int = 0
    bytes_read: int = 0  # bytes of the file as stored read so far (for progress)
    skipped_by_reason: Counter[str] = field(default_factory=Counter)
    warnings_by_reason: Counter[str] = field(default_factory=Counter)
    ai_cue_docs: int = 0  # documents that passed the AI-entity gate
    genre_docs: Counter[str] = field(default_factory=Counter)
    trope_docs: Counter[str] = field(default_factory=Counter)
    trope_passages: Counter[str] = field(default_factory=Counter)

    def add_labels(self, labels: DocLabels) -> None:
        """Count what classification found in one document."""
        self.ai_cue_docs += bool(labels.ai_cue)
        if labels.genre is not None:
            self.genre_docs[labels.genre] += 1
        tropes = Counter(hit.trope for hit in labels.hits)
        self.trope_passages.update(tropes)
        self.trope_docs.update(tropes.keys())

    def add(self, doc: Document) -> None:
        self.records_total += 1
        if doc.skip_reason is not None:
            self.records_skipped += 1
            self.skipped_by_reason[doc.skip_reason] += 1
        else:
            self.records_read += 1
            self.chars += doc.n_chars
            self.passages += len(doc.passages)
        for warning in doc.warnings:
            self.warnings_by_reason[warning] += 1

    @property
    def wholly_unreadable(self) -> bool:
        if self.status != "ok":
            return True
        damaged = sum(n for reason, n in self.skipped_by_reason.items() if reason in DAMAGE_REASONS)
        return self.records_read == 0 and damaged > 0

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "key": self.key,
            "shard": self.shard,
            "dataset": self.dataset,
            "format": self.format,
            "status": self.status,
            "message": self.message,
            "size": self.size,
            "sha256": self.sha256,
            "records_total": self.records_total,
            "records_read": self.records_read,
            "records_skipped": self.records_skipped,
            "skipped_by_reason": dict(sorted(self.skipped_by_reason.items())),
            "warnings_by_reason": dict(sorted(self.warnings_by_reason.items())),
            "chars": self.chars,
            "passages": self.passages,
            **self._classified(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], *, named: bool) -> FileStats:
        """The inverse of :meth:`to_json` (``named`` is not part of it)."""
        return cls(
            source=data["source"],
            key=data["key"],
            shard=data["shard"],
            dataset=data["dataset"],
            named=named,
            size=data["size"],
            format=data["format"],
            status=data["status"],
            message=data["message"],
            sha256=data["sha256"],
            records_total=data["records_total"],
            records_read=data["records_read"],
            records_skipped=data["records_skipped"],
            chars=data["chars"],
            passages=data["passages"],
            bytes_read=data.get("bytes_read", 0),
            skipped_by_reason=Counter(data["skipped_by_reason"]),
            warnings_by_reason=Counter(data["warnings_by_reason"]),
            ai_cue_docs=data["ai_cue_docs"],
            genre_docs=Counter(data["docs_by_genre"]),
            trope_docs=Counter(data["docs_by_trope"]),
            trope_passages=Counter(data["passages_by_trope"]),
        )

    def _classified(self) -> dict[str, Any]:
        return {
            "ai_cue_docs": self.ai_cue_docs,
            "docs_by_genre": dict(sorted(self.genre_docs.items())),
            "docs_by_trope": dict(sorted(self.trope_docs.items())),
            "passages_by_trope": dict(sorted(self.trope_passages.items())),
        }


def totals(files: list[FileStats]) -> dict[str, Any]:
    skipped: Counter[str] = Counter()
    warnings: Counter[str] = Counter()
    status: Counter[str] = Counter()
    genre: Counter[str] = Counter()
    trope_docs: Counter[str] = Counter()
    trope_passages: Counter[str] = Counter()
    for f in files:
        skipped.update(f.skipped_by_reason)
        warnings.update(f.warnings_by_reason)
        status[f.status] += 1
        genre.update(f.genre_docs)
        trope_docs.update(f.trope_docs)
        trope_passages.update(f.trope_passages)
    return {
        "files": len(files),
        "files_by_status": dict(sorted(status.items())),
        "records_total": sum(f.records_total for f in files),
        "records_read": sum(f.records_read for f in files),
        "records_skipped": sum(f.records_skipped for f in files),
        "skipped_by_reason": dict(sorted(skipped.items())),
        "warnings_by_reason": dict(sorted(warnings.items())),
        "chars": sum(f.chars for f in files),
        "passages": sum(f.passages for f in files),
        "ai_cue_docs": sum(f.ai_cue_docs for f in files),
        "docs_by_genre": dict(sorted(genre.items())),
        "docs_by_trope": dict(sorted(trope_docs.items())),
        "passages_by_trope": dict(sorted(trope_passages.items())),
    }
