"""Shard completion markers: what lets a scan into an existing ``--out`` pick up where an earlier one stopped.

A shard's outputs are written under temporary names and renamed when whole (:mod:`scanner.store.writer`); only
then is ``shards/<shard>.json`` written (atomically). The marker records the shard's counts, the sha256 of the
input as read, the ``--limit`` budget it was scanned under and the *shard hash*: a digest of everything else a
shard's outputs depend on (tropescan's version, the reader, segmenter, classifier and MinHash settings). A later
scan reuses a shard only when its marker exists, every output it names is there, and the hash, the budget and the
input's sha256 (re-read) all match; any other shard is scanned again from the start. Its marker is removed
before a rescan begins, so a marker never vouches for files a crash left half replaced.

The dedup pass, the manifest and the reports are not resumed: they are recomputed from the shard outputs on every
run (the dedup pass rewrites only the cluster columns, the same way whatever they held before).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from scanner import __version__
from scanner.config import ScanConfig
from scanner.readers.inputs import InputFile
from scanner.stats import FileStats
from scanner.store.atomic import write_atomic

log = logging.getLogger(__name__)

MARKER_VERSION = 1
MARKERS = "shards"
TABLES = ("docs", "hits", "signatures", "passages")  # the per-shard tables of a store (writer.ShardWriter)


def shard_hash(config: ScanConfig, classifier: dict[str, Any] | None, labeler: object | None = None) -> str:
    """A digest of every setting a shard's outputs depend on (not the inputs, the output directory, the dedup
    thresholds or the report: those act after the shards are written). ``classifier`` is what the labeler
    says of itself (``describe()``); a caller's own labeler that says nothing is known by its class name."""
    dedup = config.dedup
    settings = {
        "tropescan_version": __version__,
        "dataset": config.dataset,
        "reader": config.reader.model_dump(mode="json"),
        "segment": config.segment.model_dump(mode="json"),
        "classify": config.classify.model_dump(mode="json"),
        "classifier": classifier,
        "labeler": (
            None
            if labeler is None or classifier is not None
            else f"{type(labeler).__module__}.{type(labeler).__qualname__}"
        ),
        "minhash": {
            "enabled": dedup.enabled,
            "num_perm": dedup.num_perm,
            "seed": dedup.seed,
            "ngram": dedup.ngram,
            "exact_above": dedup.exact_above,
        },
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def marker_path(out: Path, shard: str) -> Path:
    return out / MARKERS / f"{shard}.json"


def _tables(config: ScanConfig) -> tuple[str, ...]:
    return TABLES if config.dedup.enabled else TABLES[:2]


@dataclass(frozen=True, slots=True)
class ShardMarker:
    stats: FileStats
    tiers: dict[str, int]


def write_marker(
    out: Path, stats: FileStats, *, config: ScanConfig, digest: str, budget: int | None, tiers: dict[str, int]
) -> None:
    """Record a shard whose outputs are complete (called after they were renamed into place)."""
    (out / MARKERS).mkdir(parents=True, exist_ok=True)
    data = {
        "marker_version": MARKER_VERSION,
        "shard_hash": digest,
        "budget": budget,
        "tables": list(_tables(config)),
        "stats": {**stats.to_json(), "bytes_read": stats.bytes_read},
        "passages_by_tier": tiers,
    }
    write_atomic(marker_path(out, stats.shard), json.dumps(data, indent=1, sort_keys=True) + "\n")


def forget(out: Path, shard: str) -> None:
    """Remove a shard's marker (before it is scanned again)."""
    marker_path(out, shard).unlink(missing_ok=True)


def discard(out: Path, shard: str) -> None:
    """Remove everything a shard wrote, complete or not (a shard that failed)."""
    forget(out, shard)
    for table in TABLES:
        for path in (out / table / f"{shard}.parquet", out / table / f".{shard}.parquet.tmp"):
            path.unlink(missing_ok=True)


def input_sha256(source: str) -> str:
    """The sha256 of an input as stored (what :class:`scanner.readers.stream.InputStream` digests)."""
    from scanner.readers.stream import InputStream

    with InputStream(source) as stream:
        return stream.finish()


def reusable(out: Path, file: InputFile, *, config: ScanConfig, digest: str, budget: int | None) -> ShardMarker | None:
    """The marker of a complete shard this scan can keep as it is, else ``None`` (the reason is logged)."""
    path = marker_path(out, file.shard)
    if not path.is_file():
        return None
    why = _mismatch(out, file, path, config=config, digest=digest, budget=budget)
    if isinstance(why, str):
        log.info("%s: scanned again (%s)", file.source, why)
        return None
    return why


def _mismatch(
    out: Path, file: InputFile, path: Path, *, config: ScanConfig, digest: str, budget: int | None
) -> ShardMarker | str:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        stats = FileStats.from_json(data["stats"], named=file.named)
        tiers = {str(k): int(v) for k, v in data["passages_by_tier"].items()}
        recorded = (data["marker_version"], data["shard_hash"], data["budget"], tuple(data["tables"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"its marker {path} cannot be read: {exc}"
    if recorded[0] != MARKER_VERSION:
        return "its marker is of another version"
    if recorded[1] != digest:
        return "the settings changed"
    if recorded[2] != budget:
        return "the --limit budget changed"
    if (stats.source, stats.key, stats.dataset, stats.status) != (file.source, file.key, file.dataset, "ok"):
        return "the marker names another input"
    if recorded[3] != _tables(config):
        return "the marker lists other tables"
    for table in recorded[3]:
        if not (out / table / f"{file.shard}.parquet").is_file():
            return f"{table}/{file.shard}.parquet is missing"
    try:
        rows = pq.ParquetFile(out / "docs" / f"{file.shard}.parquet").metadata.num_rows
    except (OSError, ValueError) as exc:
        return f"docs/{file.shard}.parquet cannot be read: {exc}"
    if rows != stats.records_total:
        return f"docs/{file.shard}.parquet holds {rows} rows, the marker {stats.records_total}"
    if file.size is not None and stats.size is not None and file.size != stats.size:
        return "the input's size changed"
    try:
        now = input_sha256(file.source)
    except (OSError, ValueError) as exc:
        return f"the input cannot be re-read to check its sha256: {exc}"
    if now != stats.sha256:
        return "the input's sha256 changed"
    return ShardMarker(stats, tiers)
