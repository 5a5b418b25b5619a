"""Near-duplicate clusters over a results store, out of core.

After a scan, every document with text has a row in ``signatures/<shard>.parquet``. Clustering:

1. **Bands.** Each signature's LSH band hashes go to one Parquet table per band ``(hash, doc)``, written shard by
   shard (``doc`` numbers the signed documents in shard order, then row order).
2. **Candidates.** Each band's table is grouped by hash (a numpy sort), one band at a time; in each group of two or more
   documents, sorted, every member is paired with the first (a star) and with the one before it (a chain): linear
   in the group's size, and enough to connect a group of copies. (With ``--engine ray`` steps 1 and 2 are a Ray
   shuffle instead: one map task per shard, one reduce task per band, the same pairs: :mod:`scanner.engines.ray`.)
3. **Verification.** Each candidate pair is kept only when its Jaccard similarity reaches the threshold: estimated
   from the two signatures, or exact, over the stored shingle hashes, when both documents are long (books), so
   that a chain of partial overlaps cannot merge unrelated texts.
4. **Clusters.** Connected components of the verified pairs (scipy). A cluster is named by the ``doc_id`` of its
   first document (shard order, row order); a document without near-duplicates is its own cluster of one.
5. **Store.** ``docs/<shard>.parquet`` is rewritten (temporary file, then rename) with ``dup_cluster`` and
   ``dup_cluster_size`` filled.

Memory: the band tables live on disk and signatures are read 8,192 rows at a time; the signatures of the
documents in candidate pairs go to a scratch matrix on disk that verification maps one chunk of pairs at a time;
the docs tables are rewritten one row group at a time. What is held is a few integers per signed document (its
component) and per candidate pair.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scanner.config import DedupConfig
from scanner.dedup.index import IndexWriter, SavedIndex
from scanner.dedup.lsh import band_hashes, optimal_params
from scanner.dedup.minhash import passage_id

log = logging.getLogger(__name__)

BATCH_ROWS = 8_192  # signature rows read at a time (4 MiB of minhash values at 128 permutations)
EDGE_CHUNK = 32_768  # candidate pairs compared at once: two (chunk, num_perm) uint32 gathers, 32 MiB at 128
BANDS_SCHEMA = pa.schema([("hash", pa.uint64()), ("doc", pa.uint32())])


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
    passages: dict[str, Any] | None = None  # the same for the labelled passages
    earlier_index: dict[str, Any] | None = None  # --against: the index and how many documents it held
    saved_index: dict[str, Any] | None = None  # --save-index: where, how many entries
    seconds: float = 0.0  # wall times: to the manifest's timing, not here
    phase_seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["seconds"], data["phase_seconds"]
        return data


def _minhash_batches(path: Path, columns: list[str]) -> Iterator[pa.RecordBatch]:
    yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=columns)


def signature_matrix(column: pa.Array, num_perm: int) -> np.ndarray:
    values = column.flatten().to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.uint32).reshape(-1, num_perm)


def band_batches(
    path: Path, offset: int, num_perm: int, bands: int, rows: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One signature table's LSH band hashes, a batch at a time: ``(n, bands)`` uint64 hashes and the documents'
    global numbers (``offset`` is the number of signed documents in the tables before this one)."""
    for batch in _minhash_batches(path, ["minhash"]):
        hashes = band_hashes(signature_matrix(batch.column(0), num_perm), bands, rows)
        yield hashes, np.arange(offset, offset + len(hashes), dtype=np.uint32)
        offset += len(hashes)


def _write_bands(paths: list[Path], work: Path, num_perm: int, bands: int, rows: int) -> int:
    """One band table per band (``work/band-K.parquet``: hash, doc); returns the number of signed documents."""
    offset = 0
    writers = [pq.ParquetWriter(work / f"band-{k:03d}.parquet", BANDS_SCHEMA, compression="zstd") for k in range(bands)]
    try:
        for path in paths:
            for hashes, docs in band_batches(path, offset, num_perm, bands, rows):
                doc = pa.array(docs)
                for k, writer in enumerate(writers):
                    writer.write_table(pa.Table.from_arrays([pa.array(hashes[:, k]), doc], schema=BANDS_SCHEMA))
                offset += len(docs)
    finally:
        for writer in writers:
            writer.close()
    return offset


def band_pairs(hashes: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """The candidate pairs of one band's ``(hash, doc)`` rows, as sorted distinct keys ``a << 32 | b`` (``a < b``):
    in every bucket of two or more documents, sorted, each member is paired with the first (a star) and with the
    one before it (a chain): linear in the bucket's size, and enough to connect a bucket of copies. numpy sorts,
    ~20 bytes a row."""
    if len(hashes) < 2:
        return np.zeros(0, dtype=np.uint64)
    order = np.lexsort((docs, hashes))  # by bucket, then document
    bucket_hash = hashes[order]
    doc = docs[order].astype(np.uint64)
    del order
    same = bucket_hash[1:] == bucket_hash[:-1]  # row i + 1 is in row i's bucket
    del bucket_hash
    chain = (doc[:-1][same] << np.uint64(32)) | doc[1:][same]
    first_in_bucket = np.concatenate([[True], ~same])
    first = doc[first_in_bucket][np.cumsum(first_in_bucket) - 1]  # per row, its bucket's first document
    star = (first[~first_in_bucket] << np.uint64(32)) | doc[~first_in_bucket]
    return np.unique(np.concatenate([star, chain]))


def _band_file_pairs(path: Path) -> np.ndarray:
    table = pq.read_table(path)
    return band_pairs(table.column("hash").to_numpy(), table.column("doc").to_numpy())


def merge_pairs(found: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of every band (:func:`band_pairs` keys), distinct and sorted by ``(a, b)``, so that what follows
    does not depend on the band order. Folded band by band: memory holds the distinct pairs, not every band's
    copy of them (copies of one page share all their bands)."""
    keys = np.zeros(0, dtype=np.uint64)
    for band in found:
        keys = np.union1d(keys, band)
    return (keys >> np.uint64(32)).astype(np.int64), (keys & np.uint64(0xFFFFFFFF)).astype(np.int64)


def local_candidates(
    paths: list[Path], num_perm: int, bands: int, rows: int, work: Path
) -> tuple[int, np.ndarray, np.ndarray]:
    """Signed documents and candidate pairs, in this process: the band tables go to ``work`` (on disk) and are
    grouped one band at a time, so memory follows the documents of one band table, not all of them."""
    work.mkdir(parents=True, exist_ok=True)
    try:
        n = _write_bands(paths, work, num_perm, bands, rows)
        a, b = merge_pairs(_band_file_pairs(work / f"band-{k:03d}.parquet") for k in range(bands))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return n, a, b


CandidateFinder = Callable[[list[Path], int, int, int, Path], tuple[int, np.ndarray, np.ndarray]]
"""``(signature paths, num_perm, bands, rows, scratch dir) -> (signed documents, a, b)``: how candidate pairs are
found (:func:`local_candidates`, or the Ray shuffle of :mod:`scanner.engines.ray`). Every finder returns the
same pairs."""


def _write_rows(paths: list[Path], num_perm: int, wanted: np.ndarray, matrix: Path) -> dict[int, np.ndarray]:
    """The signatures of the ``wanted`` documents (sorted global numbers), in that order, as a raw uint32 matrix
    in the file ``matrix``; returns the kept shingle hashes of those that have them (by position in ``wanted``)."""
    kept: dict[int, np.ndarray] = {}
    offset = 0
    with matrix.open("wb") as fh:
        for path in paths:
            for batch in _minhash_batches(path, ["minhash", "shingles"]):
                n = batch.num_rows
                lo, hi = np.searchsorted(wanted, [offset, offset + n])
                if hi > lo:
                    local = wanted[lo:hi] - offset
                    fh.write(np.ascontiguousarray(signature_matrix(batch.column(0), num_perm)[local]).tobytes())
                    shingles = batch.column(1)
                    for j, row in zip(range(lo, hi), local, strict=True):
                        value = shingles[int(row)]
                        if value.is_valid:
                            kept[j] = np.asarray(value.values.to_numpy(zero_copy_only=False), dtype=np.uint32)
                offset += n
    return kept


def _verify(
    a: np.ndarray, b: np.ndarray, paths: list[Path], config: DedupConfig, summary: DedupSummary, work: Path
) -> np.ndarray:
    """A mask over the pairs: Jaccard (estimated, or exact for two long documents) >= threshold.

    The signatures of the documents in pairs go to a scratch matrix on disk (``work``), which is mapped for one
    chunk of pairs at a time and unmapped after it, so the memory held for them does not grow with the number of
    documents (the page cache keeps what is hot)."""
    if not len(a):
        return np.zeros(0, dtype=bool)
    wanted = np.unique(np.concatenate([a, b]))
    work.mkdir(parents=True, exist_ok=True)
    matrix = work / "verify-signatures.u32"
    kept = _write_rows(paths, config.num_perm, wanted, matrix)
    ia, ib = np.searchsorted(wanted, a), np.searchsorted(wanted, b)
    similarity = np.empty(len(a), dtype=np.float64)
    for lo in range(0, len(a), EDGE_CHUNK):
        hi = lo + EDGE_CHUNK
        sigs = np.memmap(matrix, dtype=np.uint32, mode="r", shape=(len(wanted), config.num_perm))
        equal = sigs[ia[lo:hi]] == sigs[ib[lo:hi]]
        del sigs  # unmapped: its pages leave this process's resident set
        similarity[lo:hi] = np.count_nonzero(equal, axis=1) / config.num_perm  # no float copy of the chunk
    matrix.unlink()
    has = np.zeros(len(wanted), dtype=bool)
    has[list(kept)] = True
    for k in np.flatnonzero(has[ia] & has[ib]):
        ka, kb = kept.get(int(ia[k])), kept.get(int(ib[k]))
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


def _fill(
    table_path: Path,
    sig_path: Path,
    offset: int,
    clustering: Clustering,
    names: dict[int, str],
    *,
    kind: str,
    earlier: dict[str, str | None] | None = None,
) -> int:
    """Fill the cluster columns of one shard's docs (``kind="docs"``: ``dup_cluster``, keyed by ``doc_id``) or hits
    table (``"hits"``: ``passage_cluster``, keyed by ``doc_id:passage_start``); returns the shard's signed rows.

    Docs are rewritten one row group at a time, walking the shard's signatures alongside (they list the signed
    documents in the same order), so memory does not grow with the shard. Hits (labelled passages only) are
    rewritten whole."""
    if kind == "hits":
        return _fill_hits(table_path, sig_path, offset, clustering, names)
    from scanner.store.writer import ROW_GROUP_ROWS

    signed = _ids(sig_path)
    pending = next(signed, None)
    n = 0
    tmp = table_path.with_name(f".{table_path.name}.tmp")
    source = pq.ParquetFile(table_path)
    with pq.ParquetWriter(tmp, source.schema_arrow, compression="zstd", write_statistics=True) as writer:
        for batch in source.iter_batches(batch_size=ROW_GROUP_ROWS):
            cluster: list[str | None] = []
            size: list[int | None] = []
            before: list[str | None] = []
            for doc_id in batch.column("doc_id").to_pylist():
                if doc_id is None or doc_id != pending:  # skipped, empty or unsigned: no cluster
                    cluster.append(None)
                    size.append(None)
                    before.append(None)
                    continue
                c = int(clustering.component[offset + n])
                s = int(clustering.sizes[c])
                cluster.append(doc_id if s == 1 else names[int(clustering.first[c])])
                size.append(s)
                before.append(earlier.get(doc_id) if earlier is not None else None)
                n += 1
                pending = next(signed, None)
            table = pa.Table.from_batches([batch])
            columns = {"dup_cluster": pa.array(cluster, pa.string()), "dup_cluster_size": pa.array(size, pa.int64())}
            if earlier is not None:
                columns["earlier_dup"] = pa.array(before, pa.string())
            for name, column in columns.items():
                table = table.set_column(table.schema.get_field_index(name), name, column)
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        if source.metadata.num_rows == 0:
            writer.write_table(source.schema_arrow.empty_table())
    if pending is not None:
        tmp.unlink()
        raise RuntimeError(f"{sig_path}: signs {pending}, which {table_path} does not hold in that order")
    tmp.replace(table_path)
    return n


def _ids(sig_path: Path) -> Iterator[str]:
    for batch in pq.ParquetFile(sig_path).iter_batches(batch_size=BATCH_ROWS, columns=["doc_id"]):
        yield from batch.column(0).to_pylist()


def _fill_hits(table_path: Path, sig_path: Path, offset: int, clustering: Clustering, names: dict[int, str]) -> int:
    ids = pq.read_table(sig_path, columns=["doc_id"]).column(0).to_pylist()
    n = len(ids)
    comp = clustering.component[offset : offset + n]
    size = clustering.sizes[comp]
    cluster_of: dict[str, tuple[str, int]] = {}
    for key, c, s in zip(ids, comp.tolist(), size.tolist(), strict=True):
        cluster_of[key] = (key if s == 1 else names[int(clustering.first[c])], s)
    table = pq.read_table(table_path)
    starts = table.column("passage_start").to_pylist()
    keys = [
        None if s is None else passage_id(d, s) for d, s in zip(table.column("doc_id").to_pylist(), starts, strict=True)
    ]
    clusters = [cluster_of.get(k, (None, None)) if k is not None else (None, None) for k in keys]
    for name, values, kind in (
        ("passage_cluster", [c[0] for c in clusters], pa.string()),
        ("passage_cluster_size", [c[1] for c in clusters], pa.int64()),
    ):
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(values, kind))
    from scanner.store.writer import ROW_GROUP_ROWS

    tmp = table_path.with_name(f".{table_path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd", row_group_size=ROW_GROUP_ROWS, write_statistics=True)
    tmp.replace(table_path)
    return n


@dataclass(frozen=True, slots=True)
class Clustering:
    """Per signed document (global number) its component; per component its size and first document."""

    component: np.ndarray
    sizes: np.ndarray
    first: np.ndarray


def cluster_signatures(
    paths: list[Path], config: DedupConfig, work: Path, *, candidates: CandidateFinder = local_candidates
) -> tuple[Clustering, DedupSummary]:
    """Bands, candidates, verification and components over the signature tables ``paths`` (in this order);
    ``work`` is a scratch directory for the band tables (emptied first, and removed)."""
    started = time.perf_counter()
    bands, rows = optimal_params(
        config.threshold,
        config.num_perm,
        false_positive_weight=round(1.0 - config.false_negative_weight, 6),
        false_negative_weight=config.false_negative_weight,
    )
    summary = DedupSummary(num_perm=config.num_perm, threshold=config.threshold, bands=bands, rows=rows)
    shutil.rmtree(work, ignore_errors=True)  # what a killed run left there
    n, a, b = candidates(paths, config.num_perm, bands, rows, work)
    summary.phase_seconds["candidates"] = time.perf_counter() - started
    summary.docs_signed = n
    summary.candidate_pairs = len(a)
    try:
        keep = _verify(a, b, paths, config, summary, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary.verified_pairs = int(keep.sum())
    summary.rejected_pairs = len(a) - summary.verified_pairs
    summary.phase_seconds["verify"] = time.perf_counter() - started - sum(summary.phase_seconds.values())
    component, sizes = _components(n, a[keep], b[keep])
    _, first = np.unique(component, return_index=True)
    summary.phase_seconds["components"] = time.perf_counter() - started - sum(summary.phase_seconds.values())
    duplicate = sizes > 1
    summary.clusters = len(sizes)
    summary.duplicate_clusters = int(duplicate.sum())
    summary.docs_in_duplicate_clusters = int(sizes[duplicate].sum())
    summary.largest_cluster = int(sizes.max()) if len(sizes) else 0
    return Clustering(component, sizes, first), summary


def _earlier(sig_path: Path, index: SavedIndex, config: DedupConfig) -> dict[str, str | None]:
    """Per signed document of one shard, the earlier scans' entry it copies (or ``None``)."""
    found: dict[str, str | None] = {}
    for batch in _minhash_batches(sig_path, ["doc_id", "minhash"]):
        matches = index.match(signature_matrix(batch.column(1), config.num_perm), config.threshold, config.seed)
        found.update(zip(batch.column(0).to_pylist(), matches, strict=True))
    return found


def _save_index(
    paths: list[Path],
    clustering: Clustering,
    earlier: set[int],
    config: DedupConfig,
    scan_name: str,
    previous: SavedIndex | None,
) -> int:
    """The index of ``--save-index``: the previous entries, then the first document of each cluster of this
    scan whose cluster holds no copy of an earlier entry."""
    assert config.save_index is not None
    writer = IndexWriter(Path(config.save_index), config)
    if previous is not None:
        writer.add_previous(previous)
    known = np.isin(clustering.component, clustering.component[sorted(earlier)]) if earlier else None
    offset = 0
    for path in paths:
        for batch in _minhash_batches(path, ["doc_id", "minhash"]):
            n = batch.num_rows
            glob = np.arange(offset, offset + n)
            keep = clustering.first[clustering.component[glob]] == glob
            if known is not None:
                keep &= ~known[glob]
            rows = np.flatnonzero(keep)
            if len(rows):
                ids = batch.column(0).to_pylist()
                writer.add([ids[i] for i in rows], scan_name, signature_matrix(batch.column(1), config.num_perm)[rows])
            offset += n
    return writer.close()


def _cluster_kind(
    out: Path,
    shards: list[str],
    config: DedupConfig,
    *,
    kind: str,
    candidates: CandidateFinder,
    index: SavedIndex | None = None,
) -> DedupSummary:
    signatures = "signatures" if kind == "docs" else "passages"
    paths = [out / signatures / f"{s}.parquet" for s in shards]
    paths = [p for p in paths if p.is_file()]
    if kind == "hits":
        config = config.model_copy(update={"threshold": config.passage_threshold})
    clustering, summary = cluster_signatures(paths, config, out / f".dedup-{kind}", candidates=candidates)
    names = _doc_ids(paths, np.sort(clustering.first[clustering.sizes > 1]))
    offset = 0
    matched: set[int] = set()
    for shard in shards:
        sig_path = out / signatures / f"{shard}.parquet"
        table_path = out / kind / f"{shard}.parquet"
        if sig_path.is_file() and table_path.is_file():
            earlier = _earlier(sig_path, index, config) if index is not None and kind == "docs" else None
            if earlier is not None:
                matched.update(offset + i for i, v in enumerate(earlier.values()) if v is not None)
            offset += _fill(table_path, sig_path, offset, clustering, names, kind=kind, earlier=earlier)
    if index is not None and kind == "docs":
        summary.earlier_index = {"path": str(index.path), "entries": len(index.keys), "docs_matched": len(matched)}
    if config.save_index and kind == "docs":
        entries = _save_index(paths, clustering, matched, config, out.name, index)
        summary.saved_index = {"path": config.save_index, "entries": entries}
    return summary


def cluster_store(
    out: Path, shards: list[str], config: DedupConfig, *, candidates: CandidateFinder = local_candidates
) -> DedupSummary:
    """Cluster the signed documents of ``shards`` (in this order) of the results store ``out`` and fill the
    cluster columns of their docs tables; then the same for the labelled passages (``passages/``, at
    ``passage_threshold``) and the hits tables. Everything it writes is recomputed whole, so running it again
    over the same shards (after a crash) writes the same bytes."""
    started = time.perf_counter()
    index = SavedIndex.load(Path(config.against), config) if config.against else None
    summary = _cluster_kind(out, shards, config, kind="docs", index=index, candidates=candidates)
    passages = _cluster_kind(out, shards, config, kind="hits", candidates=candidates)
    summary.passages = passages.to_json()
    summary.seconds = round(time.perf_counter() - started, 3)
    log.info(
        "dedup: %d documents, %d candidate pairs, %d verified, %d clusters with copies; %d labelled passages in "
        "%d clusters of copies",
        summary.docs_signed,
        summary.candidate_pairs,
        summary.verified_pairs,
        summary.duplicate_clusters,
        passages.docs_signed,
        passages.duplicate_clusters,
    )
    return summary
