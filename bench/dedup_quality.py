"""Near-duplicate detection quality on planted copies of real documents.

From the real pages of ``../shared/corpora/web_jsonl`` (those of at least ``--min-words`` words; ``--bases`` of
them, seeded) it makes, per page, five variants: light token edits (1-3% of words replaced, deleted or inserted),
a boilerplate header and footer swapped in, truncation by up to 10%, paragraph (else sentence) reordering, and a
heavy edit (20-40% of words) that should fall below the threshold. The 23 Gutenberg books go in whole, plus a
lightly edited copy (1% of words) of five of them. Everything is scanned with ``tropescan scan --no-classify``
(signatures and clusters as in any scan), then every pair is judged by the exact Jaccard similarity of its
word-5-gram shingle sets (tropescan's normalisation): a pair is a true copy at >= the threshold, and pairs within
±0.05 of it are left out. Pairs judged: all pairs within a page's or book's family, and every pair across
families that a permissive LSH (threshold 0.5) makes a candidate (so real copies among the source pages count).

Reported: pairwise precision, recall and F1 of "same dup_cluster" over the planted pairs (each page or book with
each of its copies, plus the pairs across families above; target F1 >= 0.95), recall per variant kind, and the
clusters that join two different books (target: none). Also reported, for information: the same over every pair
within a family or a predicted cluster, where two copies of one page (say a truncated and a boilerplate one) can
fall below the threshold with each other while each is a copy of the page: a cluster is transitive, the pairwise
truth is not.

    python bench/dedup_quality.py                 # ~1 minute on 2 cores
    python bench/dedup_quality.py --json out.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_shards import CORPORA
from read_throughput import machine

FILLER = ["data", "system", "report", "value", "public", "people", "market", "local", "story", "water", "time"]
BOILERPLATE = [
    "Home | About us | Contact | Privacy policy | Terms of use | Subscribe to our newsletter for weekly updates",
    "Cookies help us deliver our services. By using our services, you agree to our use of cookies. Learn more.",
    "Copyright 2019 All rights reserved. Powered by WordPress. Theme by Example Studio. Back to top.",
    "Share this: Facebook Twitter Pinterest LinkedIn Email Print. Related posts you may also like below.",
]
KINDS = ("tokens", "boilerplate", "truncate", "reorder", "heavy")


def edit_words(text: str, rng: random.Random, share: float) -> str:
    words = text.split(" ")
    for _ in range(max(1, round(len(words) * share))):
        op, at = rng.random(), rng.randrange(len(words))
        if op < 0.4:
            words[at] = rng.choice(FILLER)
        elif op < 0.7 and len(words) > 1:
            del words[at]
        else:
            words.insert(at, rng.choice(FILLER))
    return " ".join(words)


def variant(text: str, kind: str, rng: random.Random) -> str:
    if kind == "tokens":
        return edit_words(text, rng, rng.uniform(0.01, 0.03))
    if kind == "boilerplate":
        head, foot = rng.sample(BOILERPLATE, 2)
        return f"{head}\n{text}\n{foot}"
    if kind == "truncate":
        return text[: int(len(text) * (1 - rng.uniform(0.02, 0.10)))]
    if kind == "reorder":
        parts = [p for p in text.split("\n") if p.strip()]
        if len(parts) < 3:
            parts = [p for p in text.split(". ") if p]
        rng.shuffle(parts)
        return "\n".join(parts)
    return edit_words(text, rng, rng.uniform(0.20, 0.40))


def load_pages(min_words: int) -> list[str]:
    pages = []
    for path in sorted((CORPORA / "web_jsonl").glob("*.gz")):
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    text = json.loads(line).get("text")
                except json.JSONDecodeError:
                    continue
                if isinstance(text, str) and len(text.split()) >= min_words:
                    pages.append(text)
    return pages


def build(work: Path, args: argparse.Namespace) -> dict[str, tuple[str, str]]:
    """Writes the corpus; returns record id -> (family, kind)."""
    rng = random.Random(args.seed)
    pages = load_pages(args.min_words)
    bases = rng.sample(pages, min(args.bases, len(pages)))
    meta: dict[str, tuple[str, str]] = {}
    with (work / "pages.jsonl").open("w", encoding="utf-8") as fh:
        for i, text in enumerate(bases):
            fh.write(json.dumps({"id": f"p{i}-original", "text": text}) + "\n")
            meta[f"p{i}-original"] = (f"p{i}", "original")
            for kind in KINDS:
                fh.write(json.dumps({"id": f"p{i}-{kind}", "text": variant(text, kind, rng)}) + "\n")
                meta[f"p{i}-{kind}"] = (f"p{i}", kind)
    books = sorted((CORPORA / "fiction").rglob("*.txt"))
    (work / "books").mkdir()
    for k, path in enumerate(books):
        shutil.copy(path, work / "books" / path.name)
        meta[path.name] = (path.stem, "original")
        if k % 5 == 0:  # a copy with 1% of the words of the body's middle edited; PG header and licence kept
            lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
            marks = [i for i, x in enumerate(lines) if x.lstrip("* ").upper().startswith(("START OF", "END OF"))]
            start, end = (marks[0], marks[-1]) if len(marks) >= 2 else (0, len(lines))
            lo, hi = start + (end - start) // 5, end - (end - start) // 5
            middle = edit_words("\n".join(lines[lo:hi]), rng, 0.01)
            name = f"{path.stem}-edited.txt"
            (work / "books" / name).write_text("\n".join([*lines[:lo], middle, *lines[hi:]]), encoding="utf-8")
            meta[name] = (path.stem, "book_edit")
    return meta


def jaccard(a: set[bytes], b: set[bytes]) -> float:
    return len(a & b) / max(1, len(a | b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bases", type=int, default=300)
    parser.add_argument("--min-words", type=int, default=150)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--margin", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    import polars as pl

    from scanner.config import ScanConfig
    from scanner.dedup.lsh import band_hashes, optimal_params
    from scanner.dedup.minhash import MinHasher, shingles
    from scanner.pipeline import iter_documents, scan

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "corpus"
        work.mkdir()
        meta = build(work, args)
        config = ScanConfig.build(
            inputs=[str(work)], out=str(Path(tmp) / "out"), classify={"enabled": False},
            dedup={"threshold": args.threshold},
        )  # fmt: skip
        result = scan(config)
        docs = pl.read_parquet(Path(tmp) / "out" / "docs" / "*.parquet").filter(pl.col("skip_reason").is_null())
        texts = {d.doc_id: d.text for d in iter_documents(config) if d.skip_reason is None}
    key = {
        r["doc_id"]: r["record_id"] or Path(r["source_path"]).name
        for r in docs.select("doc_id", "record_id", "source_path").iter_rows(named=True)
    }
    cluster = dict(zip(docs["doc_id"].to_list(), docs["dup_cluster"].to_list(), strict=True))
    ids = sorted(texts)
    sets = {d: set(shingles(texts[d])) for d in ids}
    family = {d: meta[key[d]][0] for d in ids}
    kind = {d: meta[key[d]][1] for d in ids}
    pairs: set[tuple[str, str]] = set()
    by_family: dict[str, list[str]] = defaultdict(list)
    for d in ids:
        by_family[family[d]].append(d)
    for members in by_family.values():
        pairs.update(combinations(sorted(members), 2))
    # cross-family candidates from a permissive LSH
    signed = MinHasher().sign([texts[d] for d in ids])
    bands, rows = optimal_params(0.5, 128)
    hashes = band_hashes(signed.minhash, bands, rows)
    buckets: dict[tuple[int, int], list[str]] = defaultdict(list)
    for i, d in enumerate(ids):
        for b in range(bands):
            buckets[(b, int(hashes[i, b]))].append(d)
    for members in buckets.values():
        if 1 < len(members) <= 200:
            pairs.update(combinations(sorted(members), 2))

    def judge(selected: list[tuple[str, str]]) -> dict[str, Any]:
        counts: Counter[str] = Counter()
        by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for a, b in selected:
            j = jaccard(sets[a], sets[b])
            if abs(j - args.threshold) <= args.margin:
                counts["left_out_near_threshold"] += 1
                continue
            truth, predicted = j >= args.threshold, cluster[a] == cluster[b] and cluster[a] is not None
            counts["tp"] += truth and predicted
            counts["fp"] += predicted and not truth
            counts["fn"] += truth and not predicted
            counts["judged"] += 1
            if truth and family[a] == family[b]:
                k = kind[b] if kind[a] == "original" else kind[a]
                by_kind[k][0] += predicted
                by_kind[k][1] += 1
        tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {
            **counts,
            "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "recall_by_kind": {k: {"found": v[0], "true": v[1]} for k, v in sorted(by_kind.items())},
        }  # fmt: skip

    def planted(a: str, b: str) -> bool:  # a page or book and its own copy, or any pair across families
        return family[a] != family[b] or "original" in (kind[a], kind[b])

    # every pair in a predicted cluster is judged too (a cluster says its members are copies)
    clustered = [
        pair
        for members in docs.group_by("dup_cluster").agg(pl.col("doc_id")).filter(pl.col("doc_id").list.len() > 1).rows()
        for pair in combinations(sorted(members[1]), 2)
    ]
    main_pairs = sorted(p for p in pairs | set(clustered) if planted(*p))
    all_pairs = sorted(pairs | set(clustered))
    primary, transitive = judge(main_pairs), judge(all_pairs)
    f1 = primary["f1"]
    book_families = {d: family[d] for d in ids if kind[d] in ("original", "book_edit") and key[d].endswith(".txt")}
    clusters_books: dict[str, set[str]] = defaultdict(set)
    for d, fam in book_families.items():
        clusters_books[cluster[d]].add(fam)
    joined = sum(1 for fams in clusters_books.values() if len(fams) > 1)
    out: dict[str, Any] = {
        "machine": machine(),
        "docs": len(ids),
        "planted_pairs": primary,
        "all_pairs_within_clusters_and_families": transitive,
        "clusters_joining_books": joined,
        "dedup": result.manifest["dedup"],
        "f1_target_met": f1 >= 0.95,
    }  # fmt: skip
    print(json.dumps({k: v for k, v in out.items() if k != "machine"}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
