"""What the classification cascade saves, and what it costs, on a crawl-like shard.

On a **mixed** shard built by :mod:`build_shards` from ``../shared/corpora`` (real CC WET pages and C4 / Dolma
documents, with about 2% of records drawn from the Gutenberg books with robots or thinking machines and 0.5% from
books without; default 5 MB compressed, cached in ``.bench-cache/``) it measures, in one run:

* **the gzip floor**: Python ``gzip`` reading the shard (as in ``read_throughput.py``);
* **the full cascade scan** (``tropescan scan``, the default stage: gate, rules, lexical tier, MiniLM on what the
  lexical tier passes) over the whole shard: wall seconds, MB/s of compressed input, the ratio to the floor
  (target >= 0.1x on the 2-core development machine), and the passages that reached each tier (from the manifest);
* **cascade vs ``--no-gate``** (every passage embedded) on the first ``--docs`` documents of the shard: documents/s
  of each and their ratio (target >= 20x), and how far the cascade's labels are from the ungated ones (per-trope
  F1 of the cascade's (document, trope) labels against the ``--no-gate`` labels, and its macro average);
* **on the labelled dev set** (``corpora/labeled/dev.jsonl``): macro-F1 of the cascade and of ``--no-gate``, and
  their difference (target <= 0.02);
* **each tier's CPU speed** on the shard's passages: the gate (MB/s), the rule stage (documents/s on gated
  documents), the lexical tier and MiniLM (passages/s, one process with the threads torch takes).

Usage::

    python bench/cascade.py                      # 5 MB shard, 400 documents for the --no-gate comparison
    python bench/cascade.py --mb 2 --docs 150    # quicker
    python bench/cascade.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_shards import DEFAULT_SEED, build_shard
from read_throughput import gzip_floor, machine, table
from rules_throughput import load_texts

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
RATIO_TARGET = 20.0
F1_DIFF_TARGET = 0.02
FLOOR_TARGET = 0.1


def run_scan(shard: Path, out: Path, *, gate: bool = True, limit: int | None = None) -> dict[str, Any]:
    from scanner.config import ClassifyConfig, ScanConfig
    from scanner.pipeline import scan

    config = ScanConfig(inputs=[str(shard)], out=str(out), limit=limit, classify=ClassifyConfig(gate=gate))
    started = time.perf_counter()
    result = scan(config)
    wall = time.perf_counter() - started
    labels: set[tuple[str, str]] = set()
    for path in sorted((out / "hits").glob("*.parquet")):
        import polars as pl

        frame = pl.read_parquet(path, columns=["doc_id", "trope"])
        labels.update(zip(frame["doc_id"].to_list(), frame["trope"].to_list(), strict=True))
    counts = result.manifest["counts"]
    return {
        "wall_seconds": round(wall, 2),
        "docs": counts.get("records_read"),
        "passages_by_tier": (result.classifier or {}).get("passages_by_tier"),
        "labels": labels,
    }


def agreement(cascade: set[tuple[str, str]], reference: set[tuple[str, str]], tropes: list[str]) -> dict[str, Any]:
    per: dict[str, float | None] = {}
    for trope in tropes:
        got = {d for d, t in cascade if t == trope}
        want = {d for d, t in reference if t == trope}
        if not got and not want:
            per[trope] = None
            continue
        tp = len(got & want)
        per[trope] = round(2 * tp / (len(got) + len(want)), 4)
    scored = [v for v in per.values() if v is not None]
    return {"per_trope_f1": per, "macro_f1": round(sum(scored) / len(scored), 4) if scored else None}


def dev_macro_f1(*, gate: bool) -> float:
    from scanner.classify.factory import build_classifier
    from scanner.config import ClassifyConfig
    from scanner.evaluate.run import run_eval

    report, _ = run_eval(build_classifier(ClassifyConfig(gate=gate)), [ROOT / "corpora/labeled/dev.jsonl"])
    return float(report["macro_f1"])


def tier_speeds(shard: Path, n_docs: int) -> dict[str, Any]:
    """Per-tier CPU speed on the shard's first ``n_docs`` documents (in memory)."""
    from scanner.classify.classifier import Classifier
    from scanner.classify.cues import fold
    from scanner.classify.factory import build_classifier
    from scanner.config import ClassifyConfig, SegmentConfig
    from scanner.extract.segment import segment

    texts = load_texts(shard, n_docs)
    classifier: Classifier = build_classifier(ClassifyConfig())
    assert classifier.embed is not None
    size = sum(len(t.encode()) for t in texts) / MB
    started = time.perf_counter()
    gated = [t for t in texts if classifier.matcher.gate(t)]
    gate_s = time.perf_counter() - started
    seg = SegmentConfig()
    passages: list[str] = []
    for text in gated:
        folded = fold(text)
        entities = classifier.matcher.find_entities(text, folded)
        for p in segment(text, min_chars=seg.min_chars, max_chars=seg.max_chars):
            if any(p.start <= e.start < p.end for e in entities):
                passages.append(text[p.start : p.end])
    rules_only = build_classifier(ClassifyConfig(stage="rules"))
    from scanner.classify.texts import classify_texts

    started = time.perf_counter()
    for _ in classify_texts(rules_only, ((str(i), t) for i, t in enumerate(gated))):
        pass
    rules_s = time.perf_counter() - started
    started = time.perf_counter()
    _, p_lex = classifier.embed.lexical(passages)
    lexical_s = time.perf_counter() - started
    escalated = int(classifier.embed.escalates(p_lex).sum())
    sample = passages[:200]
    classifier.embed.encoder.encode(sample[:8])  # warm up
    started = time.perf_counter()
    classifier.embed.encoder.encode(sample)
    encode_s = time.perf_counter() - started
    return {
        "documents": len(texts),
        "gate_mb_per_s": round(size / gate_s, 1),
        "gated_documents": len(gated),
        "rules_docs_per_s": round(len(gated) / rules_s, 1),
        "cue_passages": len(passages),
        "lexical_passages_per_s": round(len(passages) / lexical_s, 1),
        "lexical_escalated": escalated,
        "minilm_passages_per_s": round(len(sample) / encode_s, 1),
        "minilm_mean_chars": round(sum(map(len, sample)) / max(len(sample), 1)),
        "torch_threads": _torch_threads(),
    }


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=5.0, help="mixed shard size, MB compressed")
    parser.add_argument("--docs", type=int, default=400, help="documents for the cascade vs --no-gate comparison")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--skip-dev", action="store_true", help="leave out the dev-set macro-F1 comparison")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from scanner.taxonomy.load import load_taxonomy

    tropes = load_taxonomy(None).ids
    shard, info = build_shard("mixed", args.mb, seed=args.seed)
    out: dict[str, Any] = {"machine": machine(), "shard": info}
    floor = gzip_floor(shard)
    floor["mb_per_s"] = round(info["compressed_bytes"] / MB / floor["seconds"], 1)  # of compressed input
    out["gzip_floor"] = floor
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run_scan(shard, work / "warm", limit=20)  # loads the model and the index once
        full = run_scan(shard, work / "full")
        mb_s = info["compressed_bytes"] / MB / full["wall_seconds"]
        out["cascade_scan"] = {
            **{k: v for k, v in full.items() if k != "labels"},
            "mb_per_s": round(mb_s, 2),
            "floor_ratio": round(floor["seconds"] / full["wall_seconds"], 4),
        }
        cascade = run_scan(shard, work / "cascade", limit=args.docs)
        ungated = run_scan(shard, work / "ungated", limit=args.docs, gate=False)
        ratio = ungated["wall_seconds"] / cascade["wall_seconds"]
        out["vs_no_gate"] = {
            "documents": args.docs,
            "cascade_seconds": cascade["wall_seconds"],
            "no_gate_seconds": ungated["wall_seconds"],
            "speedup": round(ratio, 1),
            "cascade_passages_by_tier": cascade["passages_by_tier"],
            "no_gate_passages_by_tier": ungated["passages_by_tier"],
            "label_agreement": agreement(cascade["labels"], ungated["labels"], tropes),
            "labels": {"cascade": len(cascade["labels"]), "no_gate": len(ungated["labels"])},
        }
    if not args.skip_dev:
        with_gate, without = dev_macro_f1(gate=True), dev_macro_f1(gate=False)
        out["dev_macro_f1"] = {
            "cascade": round(with_gate, 4),
            "no_gate": round(without, 4),
            "difference": round(without - with_gate, 4),
        }
    out["tiers"] = tier_speeds(shard, 1000)
    report(out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


def report(out: dict[str, Any]) -> None:
    scan, vs, tiers = out["cascade_scan"], out["vs_no_gate"], out["tiers"]
    rows = [
        ["gzip floor", f"{out['gzip_floor']['mb_per_s']:.1f} MB/s", ""],
        [
            "cascade scan (whole shard)",
            f"{scan['mb_per_s']:.2f} MB/s, {scan['floor_ratio']:.3f}x floor",
            f">= {FLOOR_TARGET}x: {'met' if scan['floor_ratio'] >= FLOOR_TARGET else 'MISSED'}",
        ],
        ["  passages by tier", json.dumps(scan["passages_by_tier"]), ""],
        [
            f"cascade vs --no-gate ({vs['documents']} docs)",
            f"{vs['cascade_seconds']} s vs {vs['no_gate_seconds']} s: {vs['speedup']}x",
            f">= {RATIO_TARGET:g}x: {'met' if vs['speedup'] >= RATIO_TARGET else 'MISSED'}",
        ],
        ["  label agreement (macro F1 vs --no-gate)", str(vs["label_agreement"]["macro_f1"]), ""],
    ]
    dev = out.get("dev_macro_f1")
    if dev:
        rows.append(
            [
                "dev macro-F1 cascade / --no-gate",
                f"{dev['cascade']:.3f} / {dev['no_gate']:.3f} (diff {dev['difference']:+.3f})",
                f"<= {F1_DIFF_TARGET}: {'met' if dev['difference'] <= F1_DIFF_TARGET else 'MISSED'}",
            ]
        )
    rows += [
        ["gate", f"{tiers['gate_mb_per_s']} MB/s", f"{tiers['gated_documents']}/{tiers['documents']} docs pass"],
        ["rule stage", f"{tiers['rules_docs_per_s']} gated docs/s", ""],
        [
            "lexical tier",
            f"{tiers['lexical_passages_per_s']} passages/s",
            f"{tiers['lexical_escalated']}/{tiers['cue_passages']} cue passages escalated",
        ],
        [
            "MiniLM (CPU)",
            f"{tiers['minilm_passages_per_s']} passages/s",
            f"mean {tiers['minilm_mean_chars']} chars, {tiers['torch_threads']} threads",
        ],
    ]
    print(table(rows, ["measure", "value", "target"]))


if __name__ == "__main__":
    raise SystemExit(main())
