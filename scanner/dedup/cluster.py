"""Near-duplicate clusters over a results store, out of core.

After a scan, every document with text has a row in ``signatures/<shard>.parquet``. Clustering:

1. **Bands.** Each signature's LSH band hashes go to one Parquet table ``(band, hash, doc)``, written shard by
   shard (``doc`` numbers the signed documents in shard order, then row order).
2. **Candidates.** polars groups that table by ``(band, hash)`` (streaming engine); in each group of two or more
   documents, sorted, every member is paired with the first (a star) and with the one before it (a chain): linear
   in the group's size, and enough to connect a group of copies.
3. **Verification.** Each candidate pair is kept only when its Jaccard similarity reaches the threshold: estimated
   from the two signatures, or exact, over the stored shingle hashes, when both documents are long (books), so
   that a chain of partial overlaps cannot merge unrelated texts.
4. **Clusters.** Connected components of the verified pairs (scipy). A cluster is named by the ``doc_id`` of its
   first document (shard order, row order); a document without near-duplicates is its own cluster of one.
5. **Store.** ``docs/<shard>.parquet`` is rewritten (temporary file, then rename) with ``dup_cluster`` and
   ``dup_cluster_size`` filled.

Memory: the band table lives on disk; what is held is one int32 per signed document (its component), the
candidate pairs, and the signatures of the documents in them.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scanner.config import DedupConfig
from scanner.dedup.lsh import band_hashes, optimal_params

log = logging.getLogger(__name__)

BATCH_ROWS = 65_536
EDGE_CHUNK = 262_144
BANDS_SCHEMA = pa.schema([("band", pa.uint16()), ("hash", pa.uint64()), ("doc", pa.uint32())])


@dataclass(slots=True)
class DedupSummary:
    """What the clustering found, recorded in the manifest under ``dedup``."""

    num_perm: int
    threshold: float
    bands: int
    rows: int
    docs_signed: int = 0
    candidate_pairs: int = 0
    verified_pairs: int = 0
    rejected_pairs: int = 0
    exact_checked_pairs: int = 0
    clusters: int = 0
    duplicate_clusters: int = 0
    docs_in_duplicate_clusters: int = 0
    largest_cluster: int = 0
    seconds: float = 0.0  # wall time: goes to the manifest's timing, not here

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["seconds"]
        return data


def _minhash_batches(path: Path, num_perm: int, columns: list[str]) -> Iterator[pa.RecordBatch]:
    yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=columns)


def _as_matrix(column: pa.Array, num_perm: int) -> np.ndarray:
    values = column.flatten().to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.uint32).reshape(-1, num_perm)


def _write_bands(paths: list[Path], bands_path: Path, num_perm: int, bands: int, rows: int) -> int:
    """The band table; returns the number of signed documents."""
    offset = 0
    with pq.ParquetWriter(bands_path, BANDS_SCHEMA, compression="zstd") as writer:
        for path in paths:
            for batch in _minhash_batches(path, num_perm, ["minhash"]):
                sig = _as_matrix(batch.column(0), num_perm)
                hashes = band_hashes(sig, bands, rows)  # (n, bands)
                n = len(sig)
                doc = np.repeat(np.arange(offset, offset + n, dtype=np.uint32), bands)
                band = np.tile(np.arange(bands, dtype=np.uint16), n)
                writer.write_table(
                    pa.Table.from_arrays(
                        [pa.array(band), pa.array(hashes.reshape(-1)), pa.array(doc)], schema=BANDS_SCHEMA
                    )
                )
                offset += n
    return offset


def _candidate_pairs(bands_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Star and chain pairs of every band bucket with two or more documents, unique, sorted."""
    import polars as pl

    groups = (
        pl.scan_parquet(bands_path)
        .group_by("band", "hash")
        .agg(pl.col("doc").sort().alias("docs"))
        .filter(pl.col("docs").list.len() > 1)
    )
    star = groups.select(pl.col("docs").list.first().alias("a"), pl.col("docs").list.slice(1).alias("b")).explode("b")
    chain = groups.select(
        pl.col("docs").list.slice(0, pl.col("docs").list.len() - 1).alias("a"),
        pl.col("docs").list.slice(1).alias("b"),
    ).explode("a", "b")
    edges = pl.concat([star, chain]).unique().sort("a", "b").collect(engine="streaming")
    return edges["a"].to_numpy().astype(np.int64), edges["b"].to_numpy().astype(np.int64)


def _load_rows(paths: list[Path], num_perm: int, wanted: np.ndarray) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """Signatures and kept shingle hashes of the ``wanted`` documents (sorted global numbers), in that order."""
    sigs = np.zeros((len(wanted), num_perm), dtype=np.uint32)
    kept: list[np.ndarray | None] = [None] * len(wanted)
    offset = 0
    for path in paths:
        for batch in _minhash_batches(path, num_perm, ["minhash", "shingles"]):
            n = batch.num_rows
            lo, hi = np.searchsorted(wanted, [offset, offset + n])
            if hi > lo:
                local = wanted[lo:hi] - offset
                sig = _as_matrix(batch.column(0), num_perm)
                sigs[lo:hi] = sig[local]
                shingles = batch.column(1)
                for j, row in zip(range(lo, hi), local, strict=True):
                    value = shingles[int(row)]
                    if value.is_valid:
                        kept[j] = np.asarray(value.values.to_numpy(zero_copy_only=False), dtype=np.uint32)
            offset += n
    return sigs, kept


def _verify(a: np.ndarray, b: np.ndarray, paths: list[Path], config: DedupConfig, summary: DedupSummary) -> np.ndarray:
    """A mask over the pairs: Jaccard (estimated, or exact for two long documents) >= threshold."""
    if not len(a):
        return np.zeros(0, dtype=bool)
    wanted = np.unique(np.concatenate([a, b]))
    sigs, kept = _load_rows(paths, config.num_perm, wanted)
    ia, ib = np.searchsorted(wanted, a), np.searchsorted(wanted, b)
    similarity = np.empty(len(a), dtype=np.float64)
    for lo in range(0, len(a), EDGE_CHUNK):
        hi = lo + EDGE_CHUNK
        similarity[lo:hi] = (sigs[ia[lo:hi]] == sigs[ib[lo:hi]]).mean(axis=1)
    for k in range(len(a)):
        ka, kb = kept[ia[k]], kept[ib[k]]
        if ka is not None and kb is not None:
            inter = len(np.intersect1d(ka, kb, assume_unique=True))
            similarity[k] = inter / max(1, len(ka) + len(kb) - inter)
            summary.exact_checked_pairs += 1
    return similarity >= config.threshold


def _components(n: int, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per document its component, and per component its size; components numbered by their first document."""
    if not len(a):
        return np.arange(n, dtype=np.int64), np.ones(n, dtype=np.int64)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    # renumber by first member, so that names never depend on scipy's numbering
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    component = rank[inverse]
    return component.astype(np.int64), np.bincount(component).astype(np.int64)


def _doc_ids(paths: list[Path], wanted: np.ndarray) -> dict[int, str]:
    """``doc_id`` of each wanted global number."""
    found: dict[int, str] = {}
    offset = 0
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=["doc_id"]):
            n = batch.num_rows
            lo, hi = np.searchsorted(wanted, [offset, offset + n])
            ids = batch.column(0)
            for g in wanted[lo:hi]:
                found[int(g)] = ids[int(g) - offset].as_py()
            offset += n
    return found


def _rewrite_docs(
    docs_path: Path,
    sig_path: Path,
    offset: int,
    component: np.ndarray,
    sizes: np.ndarray,
    names: dict[int, str],
    first_of: np.ndarray,
) -> int:
    """Fill ``dup_cluster`` and ``dup_cluster_size`` of one shard's docs table; returns its signed rows."""
    ids = pq.read_table(sig_path, columns=["doc_id"]).column(0).to_pylist()
    n = len(ids)
    comp = component[offset : offset + n]
    size = sizes[comp]
    cluster_of: dict[str, tuple[str, int]] = {}
    for doc_id, c, s in zip(ids, comp.tolist(), size.tolist(), strict=True):
        cluster_of[doc_id] = (doc_id if s == 1 else names[int(first_of[c])], s)
    table = pq.read_table(docs_path)
    doc_ids = table.column("doc_id").to_pylist()
    clusters = [cluster_of.get(d, (None, None)) for d in doc_ids]
    table = table.set_column(
        table.schema.get_field_index("dup_cluster"), "dup_cluster", pa.array([c[0] for c in clusters], pa.string())
    )
    table = table.set_column(
        table.schema.get_field_index("dup_cluster_size"),
        "dup_cluster_size",
        pa.array([c[1] for c in clusters], pa.int64()),
    )
    from scanner.store.writer import ROW_GROUP_ROWS

    tmp = docs_path.with_name(f".{docs_path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd", row_group_size=ROW_GROUP_ROWS, write_statistics=True)
    tmp.replace(docs_path)
    return n


def cluster_store(out: Path, shards: list[str], config: DedupConfig) -> DedupSummary:
    """Cluster the signed documents of ``shards`` (in this order) of the results store ``out`` and fill the
    cluster columns of their docs tables."""
    started = time.perf_counter()
    bands, rows = optimal_params(
        config.threshold,
        config.num_perm,
        false_positive_weight=round(1.0 - config.false_negative_weight, 6),
        false_negative_weight=config.false_negative_weight,
    )
    summary = DedupSummary(num_perm=config.num_perm, threshold=config.threshold, bands=bands, rows=rows)
    paths = [out / "signatures" / f"{s}.parquet" for s in shards]
    paths = [p for p in paths if p.is_file()]
    work = out / ".dedup"
    work.mkdir(exist_ok=True)
    try:
        n = _write_bands(paths, work / "bands.parquet", config.num_perm, bands, rows)
        summary.docs_signed = n
        a, b = _candidate_pairs(work / "bands.parquet")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary.candidate_pairs = len(a)
    keep = _verify(a, b, paths, config, summary)
    summary.verified_pairs = int(keep.sum())
    summary.rejected_pairs = len(a) - summary.verified_pairs
    component, sizes = _components(n, a[keep], b[keep])
    _, first_of = np.unique(component, return_index=True)
    duplicate = np.flatnonzero(sizes > 1)
    names = _doc_ids(paths, np.sort(first_of[duplicate]))
    summary.clusters = len(sizes)
    summary.duplicate_clusters = len(duplicate)
    summary.docs_in_duplicate_clusters = int(sizes[duplicate].sum())
    summary.largest_cluster = int(sizes.max()) if len(sizes) else 0
    offset = 0
    for shard in shards:
        sig_path = out / "signatures" / f"{shard}.parquet"
        docs_path = out / "docs" / f"{shard}.parquet"
        if sig_path.is_file() and docs_path.is_file():
            offset += _rewrite_docs(docs_path, sig_path, offset, component, sizes, names, first_of)
    summary.seconds = round(time.perf_counter() - started, 3)
    log.info(
        "dedup: %d documents, %d candidate pairs, %d verified, %d clusters with copies",
        n,
        summary.candidate_pairs,
        summary.verified_pairs,
        summary.duplicate_clusters,
    )
    return summary
