"""``tropescan compare``: per-trope prevalence change between two scans, with intervals."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from scanner.cli.console import make_console
from scanner.errors import ConfigError


def compare_command(
    scan_a: Path = typer.Argument(..., help="The first scan's results directory (e.g. before filtering)."),
    scan_b: Path = typer.Argument(..., help="The second scan's results directory (e.g. after filtering)."),
    json_out: Path = typer.Option(None, "--json", help="Also write the comparison as JSON."),
) -> None:
    """Each trope's rate per million documents in both scans and the change B - A with a 95% interval (Newcombe),
    raw and deduplicated; * marks a change whose interval excludes zero."""
    from scanner.aggregate.compare import compare_reports, load_or_build

    console = make_console()
    try:
        result = compare_reports(load_or_build(scan_a), load_or_build(scan_b), names=("a", "b"))
    except ConfigError as exc:
        make_console(stderr=True).print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from exc
    table = Table(title=f"A = {scan_a}, B = {scan_b} (per million documents)", header_style="bold")
    for name in ("trope", "A", "B", "B - A [95% CI]", "dedup B - A [95% CI]"):
        table.add_column(name, justify="left" if name == "trope" else "right")

    def change(c: dict) -> str:  # type: ignore[type-arg]
        if c["per_million"] is None:
            return "-"
        star = " *" if c["significant"] else ""
        return f"{c['per_million']:+,.1f} [{c['ci95'][0]:+,.1f}, {c['ci95'][1]:+,.1f}]{star}"

    for trope, t in result["tropes"].items():
        raw = t["raw"]
        a, b = raw["a"]["per_million"], raw["b"]["per_million"]
        table.add_row(
            trope,
            "-" if a is None else f"{a:,.1f}",
            "-" if b is None else f"{b:,.1f}",
            change(raw["change"]),
            change(t["dedup"]["change"]),
        )
    console.print(table)
    if not result["same_taxonomy"]:
        console.print("warning: the two scans used different taxonomies", markup=False)
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
