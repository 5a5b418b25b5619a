"""Arrow schemas of the results store. Columns are only ever added, never renamed or removed."""

from __future__ import annotations

import pyarrow as pa

DOCS_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("record_index", pa.int64(), nullable=False),
        pa.field("byte_offset", pa.int64()),
        pa.field("line", pa.int64()),
        pa.field("record_id", pa.string()),
        pa.field("url", pa.string()),
        pa.field("domain", pa.string()),
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("shard", pa.string(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("crawl_date", pa.string()),
        pa.field("title", pa.string()),
        pa.field("author", pa.string()),
        pa.field("language", pa.string()),
        pa.field("n_chars", pa.int64(), nullable=False),
        pa.field("n_passages", pa.int32(), nullable=False),
        pa.field("passage_starts", pa.list_(pa.int32())),
        pa.field("passage_ends", pa.list_(pa.int32())),
        pa.field("skip_reason", pa.string()),
        pa.field("skip_detail", pa.string()),
        pa.field("warnings", pa.list_(pa.string())),
        pa.field("genre", pa.string()),
        pa.field("genre_score", pa.float32()),
        pa.field("ai_cue", pa.bool_()),
        pa.field("exact_hash", pa.string()),
        pa.field("dup_cluster", pa.string()),
        pa.field("dup_cluster_size", pa.int64()),
        pa.field("earlier_dup", pa.string()),
    ]
)

HITS_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("start", pa.int32(), nullable=False),
        pa.field("end", pa.int32(), nullable=False),
        pa.field("trope", pa.string(), nullable=False),
        pa.field("score", pa.float32(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("evidence", pa.string(), nullable=False),
        pa.field("passage_start", pa.int32()),
        pa.field("passage_end", pa.int32()),
        pa.field("passage_cluster", pa.string()),
        pa.field("passage_cluster_size", pa.int64()),
        pa.field("passage_text", pa.string()),
    ]
)


def signatures_schema(num_perm: int) -> pa.Schema:
    """``signatures/<shard>.parquet``: one row per document with at least one shingle."""
    return pa.schema(
        [
            pa.field("doc_id", pa.string(), nullable=False),
            pa.field("n_shingles", pa.int64(), nullable=False),
            pa.field("minhash", pa.list_(pa.uint32(), num_perm), nullable=False),
            pa.field("shingles", pa.list_(pa.uint32())),
        ]
    )
