"""Streaming shard writers: rows are buffered into row groups and the file is renamed into place when done."""

from __future__ import annotations

from bisect import bisect_right
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scanner.data import DocLabels, Document
from scanner.dedup.minhash import DocSignature, Signatures, passage_id
from scanner.store.schema import DOCS_SCHEMA, HITS_SCHEMA, signatures_schema

ROW_GROUP_ROWS = 8192
_UNLABELLED = DocLabels()


class _ParquetSink:
    """Rows buffered as tuples, flushed as a row group every ``ROW_GROUP_ROWS`` rows."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")
        self.schema = schema
        self.buffer: list[tuple[Any, ...]] = []
        self.rows = 0
        self.writer = pq.ParquetWriter(self.tmp, schema, compression="zstd", write_statistics=True)

    def append(self, row: tuple[Any, ...]) -> None:
        """One row, its values in schema order."""
        self.buffer.append(row)
        if len(self.buffer) >= ROW_GROUP_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            columns = zip(*self.buffer, strict=True)
            arrays = [pa.array(values, type=field.type) for values, field in zip(columns, self.schema, strict=True)]
            self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
            self.rows += len(self.buffer)
            self.buffer.clear()

    def commit(self) -> None:
        self.flush()
        if self.rows == 0:
            self.writer.write_table(self.schema.empty_table())
        self.writer.close()
        self.tmp.replace(self.path)

    def abort(self) -> None:
        self.writer.close()
        self.tmp.unlink(missing_ok=True)


class _SignatureSink:
    """``signatures/<shard>.parquet``: MinHash rows buffered as arrays, written as row groups."""

    def __init__(self, path: Path, num_perm: int) -> None:
        self.schema = signatures_schema(num_perm)
        self.num_perm = num_perm
        self.sink = _ParquetSink(path, self.schema)
        self.ids: list[str] = []
        self.counts: list[int] = []
        self.minhash: list[np.ndarray] = []
        self.shingles: list[np.ndarray | None] = []

    def append(self, doc_id: str, sig: DocSignature) -> None:
        self.ids.append(doc_id)
        self.counts.append(sig.n_shingles)
        self.minhash.append(sig.minhash)
        self.shingles.append(sig.shingles)
        if len(self.ids) >= ROW_GROUP_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.ids:
            return
        flat = pa.array(np.concatenate(self.minhash).astype(np.uint32, copy=False), type=pa.uint32())
        table = pa.Table.from_arrays(
            [
                pa.array(self.ids, type=pa.string()),
                pa.array(self.counts, type=pa.int64()),
                pa.FixedSizeListArray.from_arrays(flat, self.num_perm),
                pa.array(self.shingles, type=pa.list_(pa.uint32())),
            ],
            schema=self.schema,
        )
        self.sink.writer.write_table(table)
        self.sink.rows += len(self.ids)
        self.ids, self.counts, self.minhash, self.shingles = [], [], [], []

    def commit(self) -> None:
        self.flush()
        self.sink.commit()

    def abort(self) -> None:
        self.sink.abort()


class ShardWriter:
    """Writes ``docs/<shard>.parquet`` and ``hits/<shard>.parquet`` (and ``signatures/<shard>.parquet`` when
    ``num_perm`` is given); each appears only when complete."""

    def __init__(self, out: Path, shard: str, *, num_perm: int | None = None) -> None:
        (out / "docs").mkdir(parents=True, exist_ok=True)
        (out / "hits").mkdir(parents=True, exist_ok=True)
        self.docs = _ParquetSink(out / "docs" / f"{shard}.parquet", DOCS_SCHEMA)
        self.hits = _ParquetSink(out / "hits" / f"{shard}.parquet", HITS_SCHEMA)
        self.signatures: _SignatureSink | None = None
        self.passage_signatures: _SignatureSink | None = None
        if num_perm is not None:
            (out / "signatures").mkdir(parents=True, exist_ok=True)
            (out / "passages").mkdir(parents=True, exist_ok=True)
            self.signatures = _SignatureSink(out / "signatures" / f"{shard}.parquet", num_perm)
            self.passage_signatures = _SignatureSink(out / "passages" / f"{shard}.parquet", num_perm)

    def add(self, doc: Document, labels: DocLabels | None = None, signatures: Signatures | None = None) -> None:
        passages = doc.passages
        labels = labels or _UNLABELLED
        signature = signatures.doc if signatures is not None else None
        if signatures is not None and self.signatures is not None and self.passage_signatures is not None:
            if signatures.doc.n_shingles:
                self.signatures.append(doc.doc_id, signatures.doc)
            for start, sig in sorted(signatures.passages.items()):
                if sig.n_shingles:
                    self.passage_signatures.append(passage_id(doc.doc_id, start), sig)
        # in the order of DOCS_SCHEMA
        self.docs.append(
            (
                doc.doc_id,
                doc.source_path,
                doc.record_index,
                doc.byte_offset,
                doc.line,
                doc.record_id,
                doc.url,
                doc.domain,
                doc.dataset,
                doc.shard,
                doc.format,
                doc.crawl_date,
                doc.title,
                doc.author,
                doc.language,
                len(doc.text),
                len(passages),
                [p.start for p in passages],
                [p.end for p in passages],
                doc.skip_reason,
                doc.skip_detail,
                doc.warnings,
                labels.genre,
                labels.genre_score,
                labels.ai_cue,
                signature.exact if signature is not None else None,
                None,  # dup_cluster, dup_cluster_size, earlier_dup: filled by the dedup pass after the scan
                None,
                None,
            )
        )
        starts = [p.start for p in passages]
        for hit in labels.hits:  # in the order of HITS_SCHEMA
            i = bisect_right(starts, hit.start) - 1
            span = (passages[i].start, passages[i].end) if i >= 0 else (None, None)
            text = doc.text[span[0] : span[1]] if i >= 0 else None
            # passage_cluster and passage_cluster_size: filled by the dedup pass
            row = (
                *(hit.doc_id, hit.start, hit.end, hit.trope, hit.score, hit.stage, hit.evidence),
                *(*span, None, None, text),
            )
            self.hits.append(row)

    def commit(self) -> None:
        if self.signatures is not None and self.passage_signatures is not None:
            self.signatures.commit()
            self.passage_signatures.commit()
        self.hits.commit()
        self.docs.commit()

    def abort(self) -> None:
        self.docs.abort()
        self.hits.abort()
        if self.signatures is not None and self.passage_signatures is not None:
            self.signatures.abort()
            self.passage_signatures.abort()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
