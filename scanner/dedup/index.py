"""Cross-scan dedup: a saved index of earlier scans' documents, queried with datasketch's ``MinHashLSH``.

An index directory holds ``index.json`` (the MinHash and LSH settings, which scans it holds, how many entries) and
``signatures.parquet`` (one row per entry: ``key``, the scan it came from, ``minhash``). One entry per
near-duplicate cluster of each saved scan (its first document). Loading builds a ``MinHashLSH`` with the same
bands and rows as a scan uses and inserts every entry (no pickles: the index is plain Parquet and JSON).

``--against DIR``: every signed document of the new scan is queried; a candidate counts only when the estimated
Jaccard of the two signatures reaches the threshold. The document's ``earlier_dup`` names the smallest such key.
``--save-index DIR``: writes the entries of the ``--against`` index (when given) plus this scan's clusters.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scanner.config import DedupConfig
from scanner.dedup.lsh import optimal_params
from scanner.errors import ConfigError
from scanner.store.atomic import write_atomic

log = logging.getLogger(__name__)

INDEX_VERSION = 1
BATCH_ROWS = 65_536


def _settings(config: DedupConfig) -> dict[str, Any]:
    return {
        "num_perm": config.num_perm,
        "seed": config.seed,
        "ngram": config.ngram,
        "threshold": config.threshold,
        "false_negative_weight": config.false_negative_weight,
        "scheme": "affine32",
        "shingle_hash": "tropescan.shingle_hash32",
    }


def _schema(num_perm: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("key", pa.string(), nullable=False),
            pa.field("scan", pa.string(), nullable=False),
            pa.field("minhash", pa.list_(pa.uint32(), num_perm), nullable=False),
        ]
    )


def check_index(path: Path, config: DedupConfig) -> dict[str, Any]:
    """The index's ``index.json``, after checking it was made with the MinHash settings of ``config``."""
    try:
        meta: dict[str, Any] = json.loads((path / "index.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a tropescan dedup index ({exc})") from exc
    if meta.get("index_version") != INDEX_VERSION:
        raise ConfigError(f"{path}: index version {meta.get('index_version')}, expected {INDEX_VERSION}")
    if not (path / "signatures.parquet").is_file():
        raise ConfigError(f"{path}: the index has no signatures.parquet")
    settings = meta.get("settings") or {}
    differing = {k: (settings.get(k), v) for k, v in _settings(config).items() if settings.get(k) != v}
    if differing:
        listed = ", ".join(f"{k}: index {a!r} vs scan {b!r}" for k, (a, b) in sorted(differing.items()))
        raise ConfigError(f"{path}: made with other dedup settings ({listed})")
    return meta


@dataclass
class SavedIndex:
    """An index directory loaded: its settings, scans, and the LSH over its entries' signatures."""

    path: Path
    meta: dict[str, Any]
    keys: list[str]
    scans: list[str]
    minhash: np.ndarray  # (entries, num_perm) uint32
    lsh: Any  # datasketch.MinHashLSH
    row_of: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.row_of = {k: i for i, k in enumerate(self.keys)}  # key -> its signature's row, built once

    @classmethod
    def load(cls, path: Path, config: DedupConfig) -> SavedIndex:
        """Refuses an index made with other MinHash settings than ``config`` (its signatures would not compare)."""
        from datasketch import MinHash, MinHashLSH

        meta = check_index(path, config)
        table = pq.read_table(path / "signatures.parquet")
        keys = table.column("key").to_pylist()
        scans = table.column("scan").to_pylist()
        n = config.num_perm
        values = table.column("minhash").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        minhash = np.asarray(values, dtype=np.uint32).reshape(-1, n)
        params = optimal_params(
            config.threshold,
            n,
            false_positive_weight=round(1.0 - config.false_negative_weight, 6),
            false_negative_weight=config.false_negative_weight,
        )
        lsh = MinHashLSH(num_perm=n, params=params)
        with lsh.insertion_session() as session:
            for i, key in enumerate(keys):
                session.insert(key, MinHash(n, config.seed, hashvalues=minhash[i], scheme="affine32"))
        return cls(path, meta, keys, scans, minhash, lsh)

    def match(self, signatures: np.ndarray, threshold: float, seed: int) -> list[str | None]:
        """Per signature, the smallest key of an entry at estimated Jaccard >= ``threshold``, else ``None``."""
        from datasketch import MinHash

        out: list[str | None] = []
        n = signatures.shape[1]
        for sig in signatures:
            found = [
                key
                for key in self.lsh.query(MinHash(n, seed, hashvalues=sig, scheme="affine32"))
                if float((self.minhash[self.row_of[key]] == sig).mean()) >= threshold
            ]
            out.append(min(found) if found else None)
        return out


class IndexWriter:
    """Writes an index directory as a stream: the entries of a previous index, then new ones in batches."""

    def __init__(self, path: Path, config: DedupConfig) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.config = config
        self.tmp = path / ".signatures.parquet.tmp"
        self.writer = pq.ParquetWriter(self.tmp, _schema(config.num_perm), compression="zstd")
        self.keys: set[str] = set()
        self.scans: set[str] = set()

    def add(self, keys: list[str], scan: str, minhash: np.ndarray) -> None:
        """Entries whose key the index already holds are left out."""
        fresh = [i for i, k in enumerate(keys) if k not in self.keys]
        if not fresh:
            return
        self.keys.update(keys[i] for i in fresh)
        self.scans.add(scan)
        values = np.ascontiguousarray(minhash[fresh], dtype=np.uint32).reshape(-1)
        table = pa.Table.from_arrays(
            [
                pa.array([keys[i] for i in fresh], pa.string()),
                pa.array([scan] * len(fresh), pa.string()),
                pa.FixedSizeListArray.from_arrays(pa.array(values, pa.uint32()), self.config.num_perm),
            ],
            schema=_schema(self.config.num_perm),
        )
        self.writer.write_table(table)

    def add_previous(self, previous: SavedIndex) -> None:
        for scan in sorted(set(previous.scans)):
            rows = [i for i, s in enumerate(previous.scans) if s == scan]
            self.add([previous.keys[i] for i in rows], scan, previous.minhash[rows])

    def close(self) -> int:
        """Publish the index (rename into place) and return its number of entries."""
        self.writer.close()
        self.tmp.replace(self.path / "signatures.parquet")
        meta = {
            "index_version": INDEX_VERSION,
            "settings": _settings(self.config),
            "scans": sorted(self.scans),
            "entries": len(self.keys),
        }
        write_atomic(self.path / "index.json", json.dumps(meta, indent=2) + "\n")
        return len(self.keys)
