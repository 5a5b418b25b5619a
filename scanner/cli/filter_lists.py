"""``tropescan filter-lists``: derive document, domain, score and dolma-attribute lists from a scan."""

from __future__ import annotations

from pathlib import Path

import typer

from scanner.cli.console import make_console
from scanner.errors import ConfigError


def filter_lists_command(
    results: Path = typer.Argument(..., help="A scan's results directory."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the lists."),
    tropes: str = typer.Option(None, "--tropes", help="Comma-separated trope ids (default: those of --polarity)."),
    polarity: str = typer.Option("misaligned", "--polarity", help="misaligned | aligned | discourse | all."),
    min_score: float = typer.Option(0.0, "--min-score", help="Only hits scoring at least this."),
    dedup_aware: bool = typer.Option(
        False, "--dedup-aware", help="Also list every document in the near-duplicate cluster of a listed one."
    ),
    min_domain_share: float = typer.Option(
        0.0, "--min-domain-share", help="Domains list: only domains with at least this share of listed documents."
    ),
) -> None:
    """Documents (JSONL, Parquet, URL list), domains, per-document scores and dolma attributes, each recording the
    sha256 of the scan's manifest."""
    from scanner.aggregate.filters import FilterOptions, write_filter_lists

    console = make_console(stderr=True)
    if polarity not in ("misaligned", "aligned", "discourse", "all"):
        console.print(f"error: --polarity must be misaligned, aligned, discourse or all, not {polarity!r}")
        raise typer.Exit(2)
    options = FilterOptions(
        tropes=tuple(t.strip() for t in tropes.split(",") if t.strip()) if tropes else (),
        polarity=polarity,  # type: ignore[arg-type]
        min_score=min_score,
        dedup_aware=dedup_aware,
        min_domain_share=min_domain_share,
    )
    try:
        record = write_filter_lists(results, out, options)
    except ConfigError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from exc
    counts = record["counts"]
    console.print(
        f"{counts['documents']:,} documents ({counts['documents_via_cluster']:,} through their cluster), "
        f"{counts['domains']:,} domains, tropes {', '.join(record['options']['tropes'])}; lists in {out}",
        markup=False,
        highlight=False,
    )
