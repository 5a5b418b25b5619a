"""``report.json``: a scan's results store aggregated with polars (lazy over the Parquet tables) into raw and
deduplicated prevalence per trope, with intervals, amplification, genre, top sources, concentration, the
aligned-to-misaligned balance of each source and, given an eval, error-adjusted prevalence.

The schema is versioned (``report_version``) and documented in docs/report-format.md. Same store, same bytes.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import polars as pl

from scanner import __version__
from scanner.aggregate.adjust import adjusted_rate, load_eval
from scanner.aggregate.sources import MIN_LABELLED, SOURCE_KINDS, alignment, source_expr, top_sources
from scanner.errors import ConfigError
from scanner.evaluate.metrics import wilson
from scanner.store.atomic import write_atomic

log = logging.getLogger(__name__)

REPORT_VERSION = 1
DEFAULT_TOP = 20
MOST_COPIED = 10
_DOC_COLUMNS = [
    "doc_id",
    "url",
    "domain",
    "dataset",
    "shard",
    "title",
    "author",
    "genre",
    "dup_cluster",
    "earlier_dup",
    "n_chars",
]


def _per_million(count: int, total: int) -> float | None:
    return round(1e6 * count / total, 1) if total else None


def store_tables(out: Path, manifest: dict[str, Any], kind: str) -> list[Path]:
    """The ``kind`` tables (docs, hits, ...) of the shards the manifest lists as read, in its order."""
    shards = [e["shard"] for e in manifest["inputs"] if e.get("status") == "ok" and e.get("shard")]
    return [p for p in (out / kind / f"{s}.parquet" for s in shards) if p.is_file()]


def read_manifest(out: Path) -> dict[str, Any]:
    path = out / "manifest.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a tropescan results directory ({exc})") from exc
    return data


def _passages(hits: pl.LazyFrame, docs: list[Path]) -> pl.DataFrame:
    """Per trope, the passages holding its hits and their characters (a hit lies inside one passage)."""
    labelled = hits.select("doc_id").unique()
    spans = (
        pl.scan_parquet(docs)
        .select("doc_id", "passage_starts", "passage_ends")
        .join(labelled, on="doc_id", how="semi")
        .explode("passage_starts", "passage_ends")
    )
    return (
        hits.join(spans, on="doc_id")
        .filter((pl.col("start") >= pl.col("passage_starts")) & (pl.col("start") < pl.col("passage_ends")))
        .select("trope", "doc_id", "passage_starts", "passage_ends")
        .unique()
        .group_by("trope")
        .agg(pl.len().alias("passages"), (pl.col("passage_ends") - pl.col("passage_starts")).sum().alias("chars"))
        .collect()
    )


def _most_copied(hits_files: list[Path], read: pl.LazyFrame, *, top: int) -> dict[str, list[dict[str, Any]]]:
    """Per trope, its labelled passages with the most near-identical copies among the labelled passages."""
    frame = (
        pl.scan_parquet(hits_files)
        .filter(pl.col("passage_cluster_size") > 1)
        .select("trope", "doc_id", "passage_start", "passage_cluster", "passage_cluster_size")
        .unique()
        .group_by("trope", "passage_cluster")
        .agg(
            pl.col("passage_cluster_size").first().alias("copies"),
            pl.col("doc_id").n_unique().alias("docs_with_trope"),
        )
        .with_columns(
            pl.col("passage_cluster").str.split_exact(":", 1).struct.rename_fields(["doc_id", "start"]).alias("at")
        )
        .unnest("at")
        .join(read.select("doc_id", "url", "domain"), on="doc_id", how="left")
        .sort(["trope", "copies", "passage_cluster"], descending=[False, True, False])
        .collect()
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for (trope,), group in frame.group_by("trope", maintain_order=True):
        out[str(trope)] = [
            {
                "passage": r["passage_cluster"],
                "doc_id": r["doc_id"],
                "start": int(r["start"]),
                "url": r["url"],
                "domain": r["domain"],
                "copies": r["copies"],
                "docs_with_trope": r["docs_with_trope"],
            }
            for r in group.head(top).iter_rows(named=True)
        ]
    return out


def classifier_accuracy(manifest: dict[str, Any], evaluation: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The measured accuracy behind the scan's labels: the ``--eval`` given, else the evals bundled next to the
    taxonomy (``<taxonomy>.evals.json``, tools/bundle_evals.py), each only if run with the scan's taxonomy."""
    from scanner.taxonomy.load import default_taxonomy_path

    classifier = manifest.get("classifier") or {}
    sha = classifier.get("taxonomy_sha256")
    if evaluation is not None:
        candidates = [evaluation]
    else:
        configured = ((manifest.get("config") or {}).get("classify") or {}).get("taxonomy")
        taxonomy = Path(configured) if configured else default_taxonomy_path()
        bundle = taxonomy.with_name(f"{taxonomy.stem}.evals.json")
        try:
            candidates = json.loads(bundle.read_text(encoding="utf-8")).get("evals", []) if bundle.is_file() else []
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("%s: unreadable (%s); the report shows no classifier accuracy", bundle, exc)
            candidates = []
    out = []
    for ev in candidates:
        if (ev.get("classifier") or {}).get("taxonomy_sha256") != sha:
            continue
        out.append(
            {
                "gold": ev.get("gold"),
                "items": ev.get("n"),
                "stage": ev.get("stage"),
                "macro_f1": ev.get("macro_f1"),
                "micro": {k: (ev.get("micro") or {}).get(k) for k in ("precision", "recall", "f1")},
                "any_trope": {k: (ev.get("any_trope") or {}).get(k) for k in ("precision", "recall")},
            }
        )
    return out


def describe_accuracy(acc: dict[str, Any]) -> str:
    """One plain-text line for an entry of ``classifier_accuracy`` (renderers escape it for their format)."""

    def f(value: object) -> str:
        return "-" if not isinstance(value, int | float) else f"{value:.2f}"

    micro, anyt = acc["micro"], acc["any_trope"]
    return (
        f"classifier accuracy on {', '.join(acc['gold'] or [])} ({acc['items']} items, stage {acc['stage']}): "
        f"macro-F1 {f(acc['macro_f1'])}, micro precision {f(micro['precision'])} / recall {f(micro['recall'])}, "
        f"any-trope precision {f(anyt['precision'])} / recall {f(anyt['recall'])}"
    )


def build_report(out: Path, *, eval_file: Path | None = None, top: int = DEFAULT_TOP) -> dict[str, Any]:
    """Aggregate the results store ``out`` (its manifest, docs and hits tables)."""
    manifest = read_manifest(out)
    docs_files, hits_files = store_tables(out, manifest, "docs"), store_tables(out, manifest, "hits")
    counts = manifest["counts"]
    classifier = manifest.get("classifier") or {}
    tropes: dict[str, Any] = classifier.get("tropes", {})
    dedup = manifest.get("dedup")

    read = (
        pl.scan_parquet(docs_files).filter(pl.col("skip_reason").is_null()).select(_DOC_COLUMNS)
        if docs_files
        else pl.LazyFrame(schema={c: pl.String for c in _DOC_COLUMNS}).with_columns(pl.col("n_chars").cast(pl.Int64))
    )
    summary = read.select(
        pl.len().alias("docs"),
        pl.col("n_chars").sum().alias("chars"),
        pl.col("dup_cluster").n_unique().alias("clusters"),
        pl.col("dup_cluster").null_count().alias("unclustered"),
        pl.col("earlier_dup").is_not_null().sum().alias("earlier"),
    ).collect()
    against = bool(dedup and dedup.get("earlier_index"))
    n_docs, n_chars = int(summary["docs"][0]), int(summary["chars"][0] or 0)
    clustered = dedup is not None and int(summary["unclustered"][0]) < n_docs
    # documents without a signature (no words) count as their own cluster
    n_clusters = (
        int(summary["clusters"][0]) - (1 if int(summary["unclustered"][0]) else 0) + int(summary["unclustered"][0])
    )
    hits = (
        pl.scan_parquet(hits_files).select("doc_id", "start", "trope")
        if hits_files
        else pl.LazyFrame(schema={"doc_id": pl.String, "start": pl.Int32, "trope": pl.String})
    )
    copied = _most_copied(hits_files, read, top=MOST_COPIED) if hits_files else {}
    labelled = (
        hits.select("doc_id", "trope")
        .unique()
        .join(read, on="doc_id")
        .with_columns(
            pl.coalesce(pl.col("dup_cluster"), pl.col("doc_id")).alias("cluster"),
            *(source_expr(k).alias(f"src_{k}") for k in SOURCE_KINDS),
        )
        .collect()
    )
    passages = _passages(hits, docs_files) if hits_files else pl.DataFrame()
    sizes = {
        kind: read.select(source_expr(kind).alias("source"))
        .group_by("source")
        .agg(pl.len().alias("source_docs"))
        .sort("source")
        .collect()
        for kind in SOURCE_KINDS
    }
    evaluation = load_eval(eval_file) if eval_file is not None else None
    if evaluation is not None and classifier.get("taxonomy_sha256") != (evaluation.get("classifier") or {}).get(
        "taxonomy_sha256"
    ):
        log.warning("%s: the eval was run with another taxonomy than the scan; its adjustment may not apply", eval_file)

    per_trope: dict[str, Any] = {}
    for trope, info in tropes.items():
        mine = labelled.filter(pl.col("trope") == trope)
        docs = mine.height
        docs_dedup = mine["cluster"].n_unique() if clustered and docs else (0 if clustered else None)
        row = passages.filter(pl.col("trope") == trope) if passages.height else passages
        n_pass = int(row["passages"][0]) if row.height else 0
        chars = int(row["chars"][0]) if row.height else 0
        interval = wilson(docs, n_docs)
        entry: dict[str, Any] = {
            "polarity": info.get("polarity"),
            "docs": docs,
            "docs_dedup": docs_dedup,
            "passages": n_pass,
            "chars": chars,
            "per_million_docs": _per_million(docs, n_docs),
            "per_million_docs_dedup": _per_million(docs_dedup, n_clusters) if docs_dedup is not None else None,
            "per_million_chars": _per_million(chars, n_chars),
            "ci95": [round(1e6 * interval[0], 1), round(1e6 * interval[1], 1)] if interval else None,
            "amplification": round(docs / docs_dedup, 4) if docs_dedup else None,
            "docs_in_earlier_scans": int(mine["earlier_dup"].is_not_null().sum()) if against else None,
            "by_genre": {},
            "top_sources": {},
            "concentration": {},
            "most_copied_passages": copied.get(trope, []),
        }
        for genre, group in sorted(mine.group_by("genre"), key=lambda g: str(g[0][0])):
            name = str(genre[0]) if genre[0] is not None else "unknown"
            entry["by_genre"][name] = {
                "docs": group.height,
                "docs_dedup": group["cluster"].n_unique() if clustered else None,
            }
        for kind in SOURCE_KINDS:
            frame = mine.select(pl.col(f"src_{kind}").alias("source"))
            entry["top_sources"][kind], entry["concentration"][kind] = top_sources(frame, sizes[kind], top=top)
        if evaluation is not None:
            counts_eval = evaluation["per_trope"].get(trope)
            entry["adjusted"] = (
                adjusted_rate(docs, n_docs, counts_eval["tp"], counts_eval["fp"], counts_eval["fn"])
                if counts_eval
                else {"per_million_docs": None, "ci95": None, "why_none": "trope not in the eval"}
            )
        per_trope[trope] = entry

    aligned = [t for t, i in tropes.items() if i.get("polarity") == "aligned"]
    misaligned = [t for t, i in tropes.items() if i.get("polarity") == "misaligned"]
    flags = labelled.group_by("doc_id").agg(
        pl.col("trope").is_in(aligned).any().alias("aligned"),
        pl.col("trope").is_in(misaligned).any().alias("misaligned"),
        *(pl.col(f"src_{k}").first() for k in SOURCE_KINDS),
    )
    balance = {
        kind: alignment(flags.select(pl.col(f"src_{kind}").alias("source"), "aligned", "misaligned"), top=top)
        for kind in SOURCE_KINDS
    }
    return {
        "report_version": REPORT_VERSION,
        "tropescan_version": __version__,
        "taxonomy": {k: classifier.get(k) for k in ("taxonomy", "taxonomy_version", "taxonomy_sha256")}
        if classifier
        else None,
        "stage": classifier.get("stage"),
        "totals": {
            "files": counts["files"],
            "records_total": counts["records_total"],
            "records_read": counts["records_read"],
            "records_skipped": counts["records_skipped"],
            "skipped_by_reason": counts["skipped_by_reason"],
            "warnings_by_reason": counts["warnings_by_reason"],
            "docs": n_docs,
            "chars": n_chars,
            "ai_cue_docs": counts.get("ai_cue_docs", 0),
            "clusters": n_clusters if clustered else None,
            "duplicate_clusters": dedup["duplicate_clusters"] if dedup else None,
            "docs_in_duplicate_clusters": dedup["docs_in_duplicate_clusters"] if dedup else None,
            "docs_in_earlier_scans": int(summary["earlier"][0]) if against else None,
            "labelled_passages": (dedup.get("passages") or {}).get("docs_signed") if dedup else None,
            "labelled_passage_duplicate_clusters": (dedup.get("passages") or {}).get("duplicate_clusters")
            if dedup
            else None,
        },
        "tropes": per_trope,
        "alignment_by_source": {
            "aligned_tropes": aligned,
            "misaligned_tropes": misaligned,
            "min_labelled_docs": MIN_LABELLED,
            **balance,
        },
        "classifier_accuracy": classifier_accuracy(manifest, evaluation) if classifier else [],
        "eval": None
        if evaluation is None
        else {
            "file": str(eval_file),
            "sha256": evaluation["_sha256"],
            "gold": evaluation.get("gold"),
            "items": evaluation.get("n"),
            "stage": evaluation.get("stage"),
            "note": "passage-level precision and recall applied to document counts",
        },
    }


EXAMPLES = 3


def evidence_examples(
    out: Path, manifest: dict[str, Any], *, per_trope: int = EXAMPLES
) -> dict[str, list[dict[str, Any]]]:
    """Per trope, its highest-scoring hits (ties: store order) with the passage text, the span relative to the
    passage, and the document's URL."""
    hits_files, docs_files = store_tables(out, manifest, "hits"), store_tables(out, manifest, "docs")
    if not hits_files or "passage_text" not in pl.read_parquet_schema(hits_files[0]):
        return {}  # no hits, or a store written before hits carried their passage
    frame = (
        pl.scan_parquet(hits_files)
        .filter(pl.col("passage_text").is_not_null())
        .with_row_index("order")
        .sort(["trope", "score", "order"], descending=[False, True, False])
        .group_by("trope", maintain_order=True)
        .head(per_trope)
        .join(pl.scan_parquet(docs_files).select("doc_id", "url", "title", "author"), on="doc_id", how="left")
        .sort(["trope", "score", "order"], descending=[False, True, False])
        .collect()
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for r in frame.iter_rows(named=True):
        found.setdefault(r["trope"], []).append(
            {
                "doc_id": r["doc_id"],
                "url": r["url"],
                "source": " — ".join(x for x in (r["title"], r["author"]) if x) or r["doc_id"],
                "passage_text": r["passage_text"],
                "start": r["start"] - r["passage_start"],
                "end": r["end"] - r["passage_start"],
                "score": float(r["score"]),
                "stage": r["stage"],
            }
        )
    return found


def write_report(out: Path, report: dict[str, Any]) -> Path:
    """``out/report.json``, ``out/report.md`` and ``out/report.html``, each written to a temporary name and
    renamed."""
    from scanner.report.html import render_html
    from scanner.report.markdown import render_markdown

    path = out / "report.json"
    manifest = read_manifest(out)
    for target, text in (
        (path, json.dumps(report, indent=2, ensure_ascii=False) + "\n"),
        (out / "report.md", render_markdown(report, manifest)),
        (out / "report.html", render_html(report, manifest, evidence_examples(out, manifest))),
    ):
        write_atomic(target, text)
    return path
