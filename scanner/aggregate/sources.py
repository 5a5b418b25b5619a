"""Where a trope comes from: its top sources of each kind, how concentrated it is, and the aligned-to-misaligned
balance of each source. Pure functions over small polars frames (one row per labelled document)."""

from __future__ import annotations

from typing import Any

import polars as pl

SOURCE_KINDS = ("domain", "dataset", "shard", "book")
MIN_LABELLED = 5  # a source's aligned-to-misaligned ratio is reported from this many labelled documents


def source_expr(kind: str) -> pl.Expr:
    """The source of a document of the docs table, for one kind (``book``: "title — author" of a book)."""
    if kind == "book":
        return (
            pl.when(pl.col("title").is_not_null())
            .then(pl.concat_str([pl.col("title"), pl.col("author").fill_null("unknown")], separator=" — "))
            .otherwise(None)
        )
    return pl.col(kind)


def gini(counts: list[int]) -> float | None:
    """Gini coefficient of counts (0: spread evenly; towards 1: held by few)."""
    n, total = len(counts), sum(counts)
    if n == 0 or total == 0:
        return None
    ordered = sorted(counts)
    weighted = sum((i + 1) * x for i, x in enumerate(ordered))
    return round(2 * weighted / (n * total) - (n + 1) / n, 4)


def top_sources(trope_docs: pl.DataFrame, source_sizes: pl.DataFrame, *, top: int) -> tuple[list[Any], dict[str, Any]]:
    """The ``top`` sources by the trope's documents, and the concentration over every source holding documents.

    ``trope_docs``: one row per document with the trope (column ``source``, null when the kind does not apply);
    ``source_sizes``: documents read per source (``source``, ``source_docs``).
    """
    counted = (
        trope_docs.filter(pl.col("source").is_not_null())
        .group_by("source")
        .agg(pl.len().alias("docs"))
        .join(source_sizes, on="source", how="left")
        .sort(["docs", "source"], descending=[True, False])
    )
    total = int(counted["docs"].sum()) if counted.height else 0
    rows: list[dict[str, Any]] = []
    cumulative = 0
    for rec in counted.head(top).iter_rows(named=True):
        cumulative += rec["docs"]
        size = rec["source_docs"] or 0
        rows.append(
            {
                "source": rec["source"],
                "docs": rec["docs"],
                "share": round(rec["docs"] / total, 4),
                "cumulative_share": round(cumulative / total, 4),
                "source_docs": size,
                "per_million_docs": round(1e6 * rec["docs"] / size, 1) if size else None,
            }
        )
    all_counts = dict(zip(counted["source"].to_list(), counted["docs"].to_list(), strict=True))
    everything = [all_counts.get(s, 0) for s in source_sizes["source"].to_list() if s is not None]
    concentration = {
        "sources_with_trope": counted.height,
        "sources": len(everything),
        "top10_share": round(sum(sorted(all_counts.values(), reverse=True)[:10]) / total, 4) if total else None,
        "gini": gini(everything),
    }
    return rows, concentration


def alignment(labelled: pl.DataFrame, *, top: int) -> list[dict[str, Any]]:
    """Per source (column ``source``) with at least ``MIN_LABELLED`` documents carrying an aligned or misaligned
    trope: those counts and aligned / misaligned. ``labelled``: one row per document with booleans ``aligned``
    and ``misaligned``."""
    per = (
        labelled.filter(pl.col("source").is_not_null() & (pl.col("aligned") | pl.col("misaligned")))
        .group_by("source")
        .agg(pl.col("aligned").sum().alias("aligned_docs"), pl.col("misaligned").sum().alias("misaligned_docs"))
        .with_columns((pl.col("aligned_docs") + pl.col("misaligned_docs")).alias("n"))
        .filter(pl.col("n") >= MIN_LABELLED)
        .sort(["n", "source"], descending=[True, False])
        .head(top)
    )
    out = []
    for rec in per.iter_rows(named=True):
        mis = int(rec["misaligned_docs"])
        out.append(
            {
                "source": rec["source"],
                "aligned_docs": int(rec["aligned_docs"]),
                "misaligned_docs": mis,
                "aligned_to_misaligned": round(rec["aligned_docs"] / mis, 4) if mis else None,
            }
        )
    return out
