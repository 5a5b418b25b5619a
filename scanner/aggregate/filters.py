"""Filter lists derived from a scan's results store, with explicit thresholds (a scan tags; lists select).

``write_filter_lists`` writes into one folder:

* ``documents.jsonl`` / ``documents.parquet``: the selected documents (``doc_id``, ``url``, ``exact_hash``,
  ``dup_cluster``, ``tropes``, ``max_score``, ``via_cluster``), in store order, and ``urls.txt`` (their URLs);
* ``domains.jsonl`` / ``domains.parquet``: per registered domain, its selected documents per trope and their share
  of the domain's documents;
* ``scores.parquet``: every read document's best score per trope (0 where it has none), keyed by ``doc_id``;
* ``attributes/tropescan/<input name>``: for JSON Lines inputs, dolma attribute files aligned row for row with the
  input (``{"id", "attributes": {"tropescan__<trope>": [[start, end, score], ...]}}``, passage spans);
* ``filter-lists.json``: the options, the counts and the sha256 of the scan's ``manifest.json``, which every
  Parquet file also carries in its metadata (``tropescan.manifest_sha256``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl
import pyarrow.parquet as pq

from scanner import __version__
from scanner.aggregate.report import read_manifest, store_tables
from scanner.errors import ConfigError
from scanner.store.atomic import write_atomic

FILTER_LISTS_VERSION = 1
Polarity = Literal["misaligned", "aligned", "discourse", "all"]


@dataclass(frozen=True, slots=True)
class FilterOptions:
    tropes: tuple[str, ...] = ()
    polarity: Polarity = "misaligned"
    min_score: float = 0.0
    dedup_aware: bool = False
    min_domain_share: float = 0.0


def selected_tropes(manifest: dict[str, Any], options: FilterOptions) -> list[str]:
    """The tropes a list is about: ``--tropes`` if given (checked against the scan's taxonomy), else those of
    ``--polarity``."""
    known = (manifest.get("classifier") or {}).get("tropes") or {}
    if not known:
        raise ConfigError("the scan has no labels (it ran with --no-classify): nothing to list")
    if options.tropes:
        unknown = sorted(set(options.tropes) - set(known))
        if unknown:
            raise ConfigError(f"unknown trope(s) {', '.join(unknown)}; the scan's taxonomy has: {', '.join(known)}")
        return [t for t in known if t in options.tropes]
    return [t for t, info in known.items() if options.polarity == "all" or info.get("polarity") == options.polarity]


def _write_parquet(frame: pl.DataFrame, path: Path, manifest_sha: str) -> None:
    table = frame.to_arrow()
    meta = dict(table.schema.metadata or {})
    meta[b"tropescan.manifest_sha256"] = manifest_sha.encode()
    meta[b"tropescan.version"] = __version__.encode()
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table.replace_schema_metadata(meta), tmp, compression="zstd")
    tmp.replace(path)


def _write_text(path: Path, lines: list[str], *, compress: bool = False) -> None:
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    write_atomic(path, gzip.compress(data, mtime=0) if compress else data)


def _attributes(out_dir: Path, docs: pl.DataFrame, hits: pl.DataFrame, tropes: list[str]) -> list[str]:
    """dolma attribute files for the JSON Lines inputs; returns their names."""
    spans = (
        hits.filter(pl.col("trope").is_in(tropes))
        .group_by("doc_id", "trope", "passage_start", "passage_end")
        .agg(pl.col("score").max())
        .sort("doc_id", "trope", "passage_start")
    )
    by_doc: dict[str, dict[str, list[list[float]]]] = {}
    for r in spans.iter_rows(named=True):
        by_doc.setdefault(r["doc_id"], {}).setdefault(f"tropescan__{r['trope']}", []).append(
            [r["passage_start"], r["passage_end"], round(float(r["score"]), 4)]  # passage span, best score
        )
    folder = out_dir / "attributes" / "tropescan"
    written = []
    jsonl = docs.filter(pl.col("format") == "jsonl")
    for (source,), group in jsonl.group_by("source_path", maintain_order=True):
        folder.mkdir(parents=True, exist_ok=True)
        name = Path(str(source)).name
        lines = [
            json.dumps(
                {"id": r["record_id"] or r["doc_id"], "attributes": by_doc.get(r["doc_id"], {})}, ensure_ascii=False
            )
            for r in group.sort("record_index").iter_rows(named=True)
        ]
        _write_text(folder / name, lines, compress=name.endswith(".gz"))
        written.append(f"attributes/tropescan/{name}")
    return written


def write_filter_lists(results: Path, out_dir: Path, options: FilterOptions) -> dict[str, Any]:
    """Write every list for the scan in ``results`` to ``out_dir``; returns what ``filter-lists.json`` records."""
    manifest = read_manifest(results)
    manifest_sha = hashlib.sha256((results / "manifest.json").read_bytes()).hexdigest()
    tropes = selected_tropes(manifest, options)
    docs_files, hits_files = store_tables(results, manifest, "docs"), store_tables(results, manifest, "hits")
    docs = (
        pl.scan_parquet(docs_files)
        .filter(pl.col("skip_reason").is_null())
        .select(
            "doc_id", "url", "domain", "exact_hash", "dup_cluster", "source_path", "record_index", "record_id", "format"
        )
        .with_row_index("order")
        .collect()
    )
    hits = (
        pl.scan_parquet(hits_files).select("doc_id", "trope", "score", "passage_start", "passage_end").collect()
        if hits_files
        else pl.DataFrame(
            schema={
                "doc_id": pl.String,
                "trope": pl.String,
                "score": pl.Float32,
                "passage_start": pl.Int32,
                "passage_end": pl.Int32,
            }
        )
    )
    chosen = hits.filter(pl.col("trope").is_in(tropes) & (pl.col("score") >= options.min_score))
    per_doc = chosen.group_by("doc_id").agg(
        pl.col("trope").unique().sort().alias("tropes"), pl.col("score").max().alias("max_score")
    )
    listed = docs.join(per_doc, on="doc_id", how="inner").with_columns(pl.lit(False).alias("via_cluster"))
    if options.dedup_aware:
        clusters = listed.filter(pl.col("dup_cluster").is_not_null())["dup_cluster"].unique()
        extra = (
            docs.filter(pl.col("dup_cluster").is_in(clusters.implode()))
            .join(listed.select("doc_id"), on="doc_id", how="anti")
            .join(
                listed.group_by("dup_cluster").agg(
                    pl.col("tropes").list.explode().unique().sort(), pl.col("max_score").max()
                ),
                on="dup_cluster",
            )
            .with_columns(pl.lit(True).alias("via_cluster"))
        )
        listed = pl.concat([listed, extra.select(listed.columns)])
    listed = listed.sort("order")
    out_dir.mkdir(parents=True, exist_ok=True)
    columns = ["doc_id", "url", "exact_hash", "dup_cluster", "tropes", "max_score", "via_cluster"]
    documents = listed.select(columns).with_columns(pl.col("max_score").cast(pl.Float64).round(4))
    _write_parquet(documents, out_dir / "documents.parquet", manifest_sha)
    _write_text(
        out_dir / "documents.jsonl", [json.dumps(r, ensure_ascii=False) for r in documents.iter_rows(named=True)]
    )
    _write_text(out_dir / "urls.txt", [u for u in documents["url"].to_list() if u])

    domain_docs = docs.filter(pl.col("domain").is_not_null()).group_by("domain").agg(pl.len().alias("domain_docs"))
    per_trope = (
        chosen.select("doc_id", "trope")
        .unique()
        .join(docs.select("doc_id", "domain"), on="doc_id")
        .filter(pl.col("domain").is_not_null())
        .group_by("domain", "trope")
        .agg(pl.len().alias("docs"))
    )
    domains = (
        listed.filter(pl.col("domain").is_not_null() & ~pl.col("via_cluster"))
        .group_by("domain")
        .agg(pl.len().alias("listed_docs"))
        .join(domain_docs, on="domain")
        .with_columns((pl.col("listed_docs") / pl.col("domain_docs")).round(4).alias("share"))
        .filter(pl.col("share") >= options.min_domain_share)
        .join(
            per_trope.group_by("domain").agg(pl.struct("trope", "docs").sort_by("trope").alias("trope_docs")),
            on="domain",
            how="left",
        )
        .sort(["listed_docs", "domain"], descending=[True, False])
    )
    _write_parquet(domains, out_dir / "domains.parquet", manifest_sha)
    _write_text(
        out_dir / "domains.jsonl",
        [
            json.dumps({**r, "trope_docs": {d["trope"]: d["docs"] for d in r["trope_docs"] or []}})
            for r in domains.iter_rows(named=True)
        ],
    )

    all_tropes = list((manifest.get("classifier") or {}).get("tropes") or {})
    scores = (
        docs.select("doc_id", "order")
        .join(
            hits.group_by("doc_id", "trope")
            .agg(pl.col("score").max())
            .pivot(on="trope", index="doc_id", values="score"),
            on="doc_id",
            how="left",
        )
        .sort("order")
    )
    for t in all_tropes:
        if t not in scores.columns:
            scores = scores.with_columns(pl.lit(None, dtype=pl.Float32).alias(t))
    scores = scores.select("doc_id", *[pl.col(t).fill_null(0.0).cast(pl.Float32) for t in all_tropes])
    _write_parquet(scores, out_dir / "scores.parquet", manifest_sha)
    every_jsonl_row = (  # skipped records too: attribute files align row for row with their input
        pl.scan_parquet(docs_files)
        .filter(pl.col("format") == "jsonl")
        .select("doc_id", "source_path", "record_index", "record_id", "format")
        .collect()
    )
    attributes = _attributes(out_dir, every_jsonl_row, chosen, tropes)  # the spans the thresholds keep

    record = {
        "filter_lists_version": FILTER_LISTS_VERSION,
        "tropescan_version": __version__,
        "scan": str(results),
        "manifest_sha256": manifest_sha,
        "options": {
            "tropes": tropes,
            "polarity": options.polarity if not options.tropes else None,
            "min_score": options.min_score,
            "dedup_aware": options.dedup_aware,
            "min_domain_share": options.min_domain_share,
        },
        "counts": {
            "documents": documents.height,
            "documents_via_cluster": int(documents["via_cluster"].sum()),
            "urls": sum(1 for u in documents["url"].to_list() if u),
            "domains": domains.height,
            "scored_documents": scores.height,
        },
        "files": [
            "documents.jsonl",
            "documents.parquet",
            "urls.txt",
            "domains.jsonl",
            "domains.parquet",
            "scores.parquet",
            *attributes,
        ],
    }
    _write_text(out_dir / "filter-lists.json", [json.dumps(record, indent=2, ensure_ascii=False)])
    return record
