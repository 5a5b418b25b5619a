"""Near-duplicate clustering at scale, on synthetic signatures: time and peak memory of banding and clustering.

Writes ``--docs`` (default 10 million) random 128-value MinHash signatures as signature tables of ``--chunk``
rows (default 1 million; 5.1 GB for 10 million), of which ``--dup-share`` (default 1%) are copies of another
signature of the same table with 10% of their values redrawn (an estimated Jaccard of about 0.9, so each is a
copy to find). Then, in a fresh interpreter so that its peak RSS is its own (``VmHWM``), it runs
``scanner.dedup.cluster.cluster_signatures`` as a scan would (band tables on disk, candidates with polars one band
at a time, verification, connected components) and reports the time of each phase, the peak RSS and how many of
the planted copies ended in their original's cluster. Scratch files go to ``--work`` (default
``.bench-cache/dedup-scale``) and are removed unless ``--keep``.

    python bench/dedup_scale.py                       # 10 million documents (~10 minutes on 2 cores, 6 GB of disk)
    python bench/dedup_scale.py --docs 1000000        # quick
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_shards import DEFAULT_CACHE
from read_throughput import machine

NUM_PERM = 128


def generate(work: Path, docs: int, chunk: int, dup_share: float, seed: int) -> tuple[list[Path], int]:
    """The signature tables and the number of planted copies."""
    from scanner.store.schema import signatures_schema

    rng = np.random.default_rng(seed)
    schema = signatures_schema(NUM_PERM)
    paths, planted = [], 0
    for start in range(0, docs, chunk):
        n = min(chunk, docs - start)
        sig = rng.integers(0, 2**32, size=(n, NUM_PERM), dtype=np.uint32)
        copies = rng.choice(np.arange(1, n), size=int(n * dup_share), replace=False)
        originals = (rng.random(len(copies)) * copies).astype(np.int64)  # an earlier row of the same table
        sig[copies] = sig[originals]
        redraw = rng.random((len(copies), NUM_PERM)) < 0.10
        fresh = rng.integers(0, 2**32, size=(len(copies), NUM_PERM), dtype=np.uint32)
        sig[copies] = np.where(redraw, fresh, sig[copies])
        planted += len(copies)
        np.save(work / f"planted-{start:012d}.npy", np.stack([copies + start, originals + start]))
        table = pa.Table.from_arrays(
            [
                pa.array([f"d{start + i:010d}" for i in range(n)]),
                pa.array(np.full(n, 200, dtype=np.int64)),
                pa.FixedSizeListArray.from_arrays(pa.array(sig.reshape(-1)), NUM_PERM),
                pa.nulls(n, pa.list_(pa.uint32())),
            ],
            schema=schema,
        )
        path = work / f"sig-{start:012d}.parquet"
        pq.write_table(table, path, compression="none", row_group_size=65_536)
        paths.append(path)
    return paths, planted


def child(work: Path) -> None:
    """Runs in the fresh interpreter: cluster and report."""
    from scanner.config import DedupConfig
    from scanner.dedup.cluster import cluster_signatures

    paths = sorted(work.glob("sig-*.parquet"))
    started = time.perf_counter()
    clustering, summary = cluster_signatures(paths, DedupConfig(), work / "scratch")
    seconds = time.perf_counter() - started
    planted = np.concatenate([np.load(p) for p in sorted(work.glob("planted-*.npy"))], axis=1)
    found = int((clustering.component[planted[0]] == clustering.component[planted[1]]).sum())
    hwm = next(
        int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM")
    )
    print(
        json.dumps(
            {
                "seconds": seconds,
                "phase_seconds": summary.phase_seconds,
                "summary": summary.to_json(),
                "planted_found": found,
                "peak_rss_mib": hwm / 1024,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000_000)
    parser.add_argument("--chunk", type=int, default=1_000_000)
    parser.add_argument("--dup-share", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--work", type=Path, default=DEFAULT_CACHE / "dedup-scale")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    started = time.perf_counter()
    paths, planted = generate(args.work, args.docs, args.chunk, args.dup_share, args.seed)
    generated = time.perf_counter() - started
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(args.work)], capture_output=True, text=True, check=True
    )
    measured: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result = {
        "machine": machine(),
        "docs": args.docs,
        "planted_copies": planted,
        "signature_bytes": sum(p.stat().st_size for p in paths),
        "generate_seconds": generated,
        **measured,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
