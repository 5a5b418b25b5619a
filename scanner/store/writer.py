"""Streaming shard writers: rows are buffered into row groups and the file is renamed into place when done."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from scanner.data import Document, Hit
from scanner.store.schema import DOCS_SCHEMA, HITS_SCHEMA

ROW_GROUP_ROWS = 8192


class _ParquetSink:
    """Columns buffered in lists, flushed as a row group every ``ROW_GROUP_ROWS`` rows."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")
        self.schema = schema
        self.columns: dict[str, list[Any]] = {name: [] for name in schema.names}
        self.rows = 0
        self.writer = pq.ParquetWriter(self.tmp, schema, compression="zstd", write_statistics=True)

    def append(self, row: dict[str, Any]) -> None:
        for name, values in self.columns.items():
            values.append(row[name])
        self.rows += 1
        if len(self.columns["doc_id"]) >= ROW_GROUP_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.columns["doc_id"]:
            table = pa.Table.from_pydict(self.columns, schema=self.schema)
            self.writer.write_table(table)
            for values in self.columns.values():
                values.clear()

    def commit(self) -> None:
        self.flush()
        if self.rows == 0:
            self.writer.write_table(self.schema.empty_table())
        self.writer.close()
        self.tmp.replace(self.path)

    def abort(self) -> None:
        self.writer.close()
        self.tmp.unlink(missing_ok=True)


class ShardWriter:
    """Writes ``docs/<shard>.parquet`` and ``hits/<shard>.parquet``; both appear only when complete."""

    def __init__(self, out: Path, shard: str) -> None:
        (out / "docs").mkdir(parents=True, exist_ok=True)
        (out / "hits").mkdir(parents=True, exist_ok=True)
        self.docs = _ParquetSink(out / "docs" / f"{shard}.parquet", DOCS_SCHEMA)
        self.hits = _ParquetSink(out / "hits" / f"{shard}.parquet", HITS_SCHEMA)

    def add(self, doc: Document, hits: list[Hit]) -> None:
        self.docs.append(
            {
                "doc_id": doc.doc_id,
                "source_path": doc.source_path,
                "record_index": doc.record_index,
                "byte_offset": doc.byte_offset,
                "line": doc.line,
                "record_id": doc.record_id,
                "url": doc.url,
                "domain": doc.domain,
                "dataset": doc.dataset,
                "shard": doc.shard,
                "format": doc.format,
                "crawl_date": doc.crawl_date,
                "title": doc.title,
                "author": doc.author,
                "language": doc.language,
                "n_chars": doc.n_chars,
                "n_passages": len(doc.passages),
                "passage_starts": [p.start for p in doc.passages],
                "passage_ends": [p.end for p in doc.passages],
                "skip_reason": doc.skip_reason,
                "skip_detail": doc.skip_detail,
                "warnings": doc.warnings,
            }
        )
        for hit in hits:
            self.hits.append(
                {
                    "doc_id": hit.doc_id,
                    "start": hit.start,
                    "end": hit.end,
                    "trope": hit.trope,
                    "score": hit.score,
                    "stage": hit.stage,
                    "evidence": hit.evidence,
                }
            )

    def commit(self) -> None:
        self.hits.commit()
        self.docs.commit()

    def abort(self) -> None:
        self.docs.abort()
        self.hits.abort()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
