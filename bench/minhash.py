"""MinHash signatures: tropescan's vectorised batches against datasketch, on the same documents, in one run.

On the first ``--docs`` page texts of the WET benchmark shard (built by :mod:`build_shards` from
``../shared/corpora`` and cached in ``.bench-cache/``) it times, interleaved and repeated ``--repeat`` times
(medians):

* **datasketch, per document** (the baseline the target is set against): ``MinHash(num_perm, seed)`` per
  document, ``update`` once per shingle;
* **datasketch, ``update_batch``** per document (its own vectorised permutation step; hashing stays per shingle);
* **tropescan** ``MinHasher.sign`` over batches of ``--batch`` documents (normalisation, shingle hashing and
  permutations vectorised per batch).

The shingles are those tropescan uses (word 5-grams of the normalised text, listed per document inside the
timed loop for datasketch too). The datasketch runs use its default shingle hash (SHA-1 through ``hashlib``, C
speed): what a datasketch user runs. tropescan's own hash differs, so equality is checked apart, untimed, on the
first ``--check-docs`` documents: datasketch with ``hashfunc=shingle_hash32`` (a pure-Python twin of the
vectorised hash, slow) must give tropescan's values exactly. Target: tropescan >= 10x datasketch's per-document
``update`` path, in documents/s.

    python bench/minhash.py                        # 4,000 documents, 3 repetitions (~3 minutes on 2 cores)
    python bench/minhash.py --docs 1000 --repeat 1 # quick
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_shards import DEFAULT_CACHE, DEFAULT_SEED, build_shard
from read_throughput import machine, table
from rules_throughput import load_texts

TARGET = 10.0


def datasketch_update(texts: list[str], num_perm: int, seed: int, hashfunc: Any = None) -> list[np.ndarray]:
    from datasketch import MinHash

    from scanner.dedup.minhash import shingles

    out = []
    for text in texts:
        m = MinHash(num_perm, seed, hashfunc=hashfunc)
        for s in shingles(text):
            m.update(s)
        out.append(m.hashvalues)
    return out


def datasketch_batch(texts: list[str], num_perm: int, seed: int) -> list[np.ndarray]:
    from datasketch import MinHash

    from scanner.dedup.minhash import shingles

    out = []
    for text in texts:
        m = MinHash(num_perm, seed)
        m.update_batch(shingles(text))
        out.append(m.hashvalues)
    return out


def tropescan(texts: list[str], num_perm: int, seed: int, batch: int) -> list[np.ndarray]:
    from scanner.dedup.minhash import MinHasher

    hasher = MinHasher(num_perm=num_perm, seed=seed)
    out: list[np.ndarray] = []
    for lo in range(0, len(texts), batch):
        out.extend(hasher.sign(texts[lo : lo + batch]).minhash)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=4000)
    parser.add_argument("--baseline-docs", type=int, default=1000, help="documents the per-shingle path runs on")
    parser.add_argument("--check-docs", type=int, default=200, help="documents whose values are compared")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64, help="documents per tropescan batch (a scan uses 64)")
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--wet-mb", type=float, default=10)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    shard, _ = build_shard("wet", args.wet_mb, cache=args.cache, seed=DEFAULT_SEED)
    texts = load_texts(shard, args.docs)
    few = texts[: args.baseline_docs]
    shingle_count = sum(len(t.split()) for t in texts)
    runs: dict[str, list[float]] = {"update": [], "update_batch": [], "tropescan": []}
    for _ in range(args.repeat):
        start = time.perf_counter()
        datasketch_update(few, args.num_perm, args.seed)
        runs["update"].append(len(few) / (time.perf_counter() - start))
        start = time.perf_counter()
        datasketch_batch(texts, args.num_perm, args.seed)
        runs["update_batch"].append(len(texts) / (time.perf_counter() - start))
        start = time.perf_counter()
        ours = tropescan(texts, args.num_perm, args.seed, args.batch)
        runs["tropescan"].append(len(texts) / (time.perf_counter() - start))
    from scanner.dedup.minhash import shingle_hash32

    checked = texts[: args.check_docs]
    theirs = datasketch_update(checked, args.num_perm, args.seed, hashfunc=shingle_hash32)
    equal = all(np.array_equal(a, b) for a, b in zip(theirs, ours, strict=False))
    medians = {k: float(statistics.median(v)) for k, v in runs.items()}
    ratio = medians["tropescan"] / medians["update"]
    result: dict[str, Any] = {
        "machine": machine(),
        "docs": len(texts),
        "baseline_docs": len(few),
        "checked_docs": len(checked),
        "mean_chars": sum(map(len, texts)) / len(texts),
        "mean_words": shingle_count / len(texts),
        "num_perm": args.num_perm,
        "batch": args.batch,
        "docs_per_second": medians,
        "runs": runs,
        "identical_values": equal,
        "ratio_vs_update": ratio,
        "ratio_vs_update_batch": medians["tropescan"] / medians["update_batch"],
        "target": TARGET,
        "met": ratio >= TARGET,
    }
    rows = [
        ["datasketch MinHash.update per shingle", f"{medians['update']:,.0f}", "1.0x"],
        ["datasketch MinHash.update_batch per document", f"{medians['update_batch']:,.0f}",
         f"{medians['update_batch'] / medians['update']:.1f}x"],
        [f"tropescan MinHasher.sign, {args.batch} documents a batch", f"{medians['tropescan']:,.0f}", f"{ratio:.1f}x"],
    ]  # fmt: skip
    print(table(rows, ["path", "docs/s", "vs update"]))
    print(
        f"{len(texts)} documents (mean {result['mean_chars']:,.0f} characters); values identical to datasketch's "
        f"with hashfunc=shingle_hash32 on {len(checked)}: {equal}; "
        f"target >= {TARGET:.0f}x: {'met' if result['met'] else 'MISSED'}"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
