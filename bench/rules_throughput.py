"""Throughput of the rule stage: the cue prefilter per core, each classification step, and a rules-only scan.

On the WET benchmark shard (default 50 MB compressed, built by :mod:`build_shards` from ``../shared/corpora``
and cached in ``.bench-cache/``) it measures, in one run:

* **prefilter**, on the first ``--docs`` page texts held in memory (UTF-8 MB/s, one core): the AI-entity gate
  with hyperscan and with Aho-Corasick, and ``CueMatcher.find`` (every entity and action cue, with positions) on
  the documents the gate passes. Target: the prefilter >= 100 MB/s per core.
* **classification steps** on the same texts: genre features, and the whole classifier (gate, cues, candidate
  sentences, patterns, spaCy on the windows a surface test picks): documents/s and MB/s, how many documents
  pass the gate and how many sentence windows spaCy parses.
* **scan vs the gzip floor**, median of ``--repeat`` repetitions, interleaved: Python ``gzip`` reading the shard
  (the floor, as in ``read_throughput.py``), ``tropescan scan --no-classify`` and the rules-only ``tropescan
  scan`` (the default scan of this issue: rules, no embeddings). Target: the rules-only scan >= 0.5x the floor
  with the workers this machine has; the scanner runs one process per scan today, so that is one core.

Usage::

    python bench/rules_throughput.py                  # 50 MB shard, 3 repetitions (about 5 minutes on 2 cores)
    python bench/rules_throughput.py --quick          # 10 MB shard, 1 repetition
    python bench/rules_throughput.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_shards import CORPORA, DEFAULT_CACHE, DEFAULT_SEED, build_shard
from read_throughput import Clock, gzip_floor, machine, table

MB = 1_000_000
PREFILTER_TARGET = 100.0  # MB/s per core
SCAN_TARGET = 0.5  # x the gzip floor


def load_texts(path: Path, n: int) -> list[str]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    texts: list[str] = []
    with path.open("rb") as fh:
        for record in ArchiveIterator(fh, record_types=WarcRecordType.conversion):
            texts.append(record.reader.read().decode("utf-8", "replace"))
            if len(texts) >= n:
                break
    return texts


def timed(fn: Any, items: list[Any], repeat: int) -> float:
    """Median seconds of ``for x in items: fn(x)`` over ``repeat`` runs."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for item in items:
            fn(item)
        runs.append(time.perf_counter() - start)
    return float(statistics.median(runs))


def prefilter(texts: list[str], repeat: int) -> dict[str, Any]:
    """The prefilter as a scan runs it: the gate on every text; for texts that pass, fold, AI-entity cue
    positions over the whole text, and action cues in the passages that hold an entity cue."""
    from bisect import bisect_left

    from scanner.classify.cues import CueMatcher, fold
    from scanner.extract.segment import segment
    from scanner.taxonomy.load import load_taxonomy

    taxonomy = load_taxonomy()
    hs = CueMatcher.from_taxonomy(taxonomy, use_hyperscan=True)
    ac = CueMatcher.from_taxonomy(taxonomy, use_hyperscan=False)
    matcher = hs if hs.engine == "hyperscan" else ac
    mb = sum(len(t.encode("utf-8")) for t in texts) / MB
    out: dict[str, Any] = {"docs": len(texts), "mb": mb, "engine": matcher.engine}
    t_gate = {"aho-corasick": timed(ac.gate, texts, repeat)}
    if hs.engine == "hyperscan":
        t_gate["hyperscan"] = timed(hs.gate, texts, repeat)
    out["gate_mb_s"] = {k: mb / v for k, v in t_gate.items()}
    gated = [(t, segment(t, min_chars=200, max_chars=1000)) for t in texts if matcher.gate(t)]
    out["gated_docs"] = len(gated)

    def cues(item: tuple[str, Any]) -> None:
        text, passages = item
        folded = fold(text)
        entities = matcher.find_entities(text, folded)
        starts = [c.start for c in entities]
        regions = [(p.start, p.end) for p in passages if bisect_left(starts, p.start) < bisect_left(starts, p.end)]
        matcher.find_actions(text, folded, regions)

    t_cues = timed(cues, gated, repeat)
    out["cues_on_gated_s"] = t_cues
    out["prefilter_mb_s"] = mb / (t_gate[matcher.engine] + t_cues)
    return out


def classification(texts: list[str]) -> dict[str, Any]:
    from scanner.classify import rules
    from scanner.classify.classifier import Classifier
    from scanner.classify.genre import fiction_probability
    from scanner.data import Document
    from scanner.extract.segment import segment

    classifier = Classifier.for_config(None, None)
    classifier.nlp.load()
    mb = sum(len(t.encode("utf-8")) for t in texts) / MB
    docs = []
    for i, text in enumerate(texts):
        doc = Document(
            doc_id=str(i), source_path="bench", record_index=i, byte_offset=None, shard="b", dataset="b", format="wet"
        )
        doc.text = text
        doc.passages = segment(text, min_chars=200, max_chars=1000)
        docs.append(doc)
    parses = 0
    original = rules._Parses.get

    def counting_get(self: Any, s: int, e: int) -> Any:
        nonlocal parses
        parses += (s, e) not in self._docs
        return original(self, s, e)

    t_genre = timed(fiction_probability, texts, 1)
    rules._Parses.get = counting_get  # type: ignore[method-assign]
    try:
        clock = Clock()
        labelled = sum(bool(classifier(doc).hits) for doc in docs)
        times = clock.stop()
    finally:
        rules._Parses.get = original  # type: ignore[method-assign]
    return {
        "docs": len(docs),
        "mb": mb,
        "genre_us_per_doc": 1e6 * t_genre / len(docs),
        "classify_seconds": times["seconds"],
        "classify_docs_s": len(docs) / times["seconds"],
        "classify_mb_s": mb / times["seconds"],
        "classify_us_per_doc": 1e6 * times["seconds"] / len(docs),
        "spacy_parses": parses,
        "docs_with_hits": labelled,
    }


def run_scan(path: Path, workdir: Path, *, classify: bool) -> dict[str, Any]:
    from scanner.config import ScanConfig
    from scanner.pipeline import scan

    out = Path(tempfile.mkdtemp(prefix="rules-scan-", dir=workdir))
    try:
        config = ScanConfig.build(
            inputs=[str(path)], out=str(out), classify={"enabled": classify, "stage": "rules"}, dedup={"enabled": False}
        )
        clock = Clock()
        result = scan(config)
        times = clock.stop()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    counts = result.manifest["counts"]
    return {
        **times,
        "docs": counts["records_read"],
        "ai_cue_docs": counts["ai_cue_docs"],
        "docs_by_trope": counts["docs_by_trope"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wet-mb", type=float, default=50, help="WET shard size, MB compressed (default 50)")
    parser.add_argument("--docs", type=int, default=8000, help="page texts held in memory for the stage timings")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of the scans (median; default 3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 MB shard, 2,000 texts, 1 repetition")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--corpora", type=Path, default=CORPORA)
    parser.add_argument("--json", type=Path, help="write every figure as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.wet_mb, args.docs, args.repeat = 10, 2000, 1

    report: dict[str, Any] = {"machine": machine(), "command": " ".join([Path(sys.executable).name, *sys.argv])}
    m = report["machine"]
    print(f"{m['date']} | {m['cpu']} | {m['cores']} cores | Python {m['python']}")
    path, info = build_shard("wet", args.wet_mb, cache=args.cache, seed=args.seed, corpora=args.corpora)
    workdir = args.cache / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    texts = load_texts(path, args.docs)

    print("== prefilter", file=sys.stderr, flush=True)
    report["prefilter"] = pre = prefilter(texts, 3)
    print("== classification steps", file=sys.stderr, flush=True)
    report["classification"] = cls = classification(texts)

    runs: dict[str, list[dict[str, Any]]] = {"floor": [], "read_only": [], "rules": []}
    for i in range(args.repeat):
        print(f"== scans, repetition {i + 1}/{args.repeat}", file=sys.stderr, flush=True)
        runs["floor"].append(gzip_floor(path))
        runs["read_only"].append(run_scan(path, workdir, classify=False))
        runs["rules"].append(run_scan(path, workdir, classify=True))
    report["scan_runs"] = runs
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r["cpu_seconds"] for r in v) for k, v in runs.items()}
    decompressed = info["decompressed_bytes"] / MB
    report["summary"] = summary = {
        "shard_mb_compressed": info["compressed_bytes"] / MB,
        "shard_mb_decompressed": decompressed,
        "median_seconds": med,
        "median_cpu_seconds": cpu,
        "read_only_vs_floor": med["floor"] / med["read_only"],
        "rules_vs_floor": med["floor"] / med["rules"],
        "prefilter_mb_s": pre["prefilter_mb_s"],
        "gate_pass_rate": pre["gated_docs"] / pre["docs"],
    }

    print(f"\nWET shard {summary['shard_mb_compressed']:.1f} MB compressed, {decompressed:.1f} MB decompressed\n")
    rows = [
        *([f"AI-entity gate, {k}", f"{v:.0f} MB/s", "all docs"] for k, v in pre["gate_mb_s"].items()),
        [
            "cue positions (fold, entities, actions in entity passages)",
            f"{pre['cues_on_gated_s']:.2f} s",
            f"{pre['gated_docs']:,} gated docs",
        ],
        [f"prefilter as scanned ({pre['engine']} gate + cues)", f"{pre['prefilter_mb_s']:.0f} MB/s", "all docs"],
        ["genre features", f"{cls['genre_us_per_doc']:.0f} µs/doc", "all docs"],
        [
            "whole classifier",
            f"{cls['classify_mb_s']:.1f} MB/s, {cls['classify_docs_s']:.0f} docs/s",
            f"{cls['spacy_parses']:,} spaCy parses in {cls['docs']:,} docs",
        ],
    ]
    print(table(rows, ["step (one core)", "throughput", "on"]))
    print()
    rows = [
        [name, f"{med[key]:.2f}", f"{cpu[key]:.2f}", f"{decompressed / med[key]:.1f}", f"{med['floor'] / med[key]:.2f}"]
        for name, key in (("gzip floor", "floor"), ("scan --no-classify", "read_only"), ("scan, rules", "rules"))
    ]
    print(table(rows, ["", "s (median)", "CPU s", "MB/s", "x floor"]))
    ok_pre = pre["prefilter_mb_s"] >= PREFILTER_TARGET
    ok_scan = summary["rules_vs_floor"] >= SCAN_TARGET
    print(f"\nprefilter >= {PREFILTER_TARGET:.0f} MB/s per core: {'met' if ok_pre else 'MISSED'}")
    print(f"rules-only scan >= {SCAN_TARGET}x the gzip floor: {'met' if ok_scan else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
