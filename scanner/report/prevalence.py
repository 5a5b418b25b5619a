"""The prevalence table of a ``report.json`` for the terminal (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def render_prevalence(console: Console, report: dict[str, Any]) -> None:
    """One row per trope: documents raw and deduplicated, rate per million documents with its interval,
    amplification, and the top domain."""
    totals = report["totals"]
    adjusted = report.get("eval") is not None
    table = Table(
        title=f"Prevalence over {totals['docs']:,} documents"
        + (f" ({totals['clusters']:,} after near-duplicate clustering)" if totals.get("clusters") is not None else ""),
        header_style="bold",
    )
    for name, justify in (
        ("trope", "left"),
        ("docs", "right"),
        ("dedup", "right"),
        ("per M docs", "right"),
        ("95% CI", "right"),
        ("amplif.", "right"),
        ("top domains", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    if adjusted:
        table.add_column("adjusted per M [95% CI]", justify="right")
    for trope, t in report["tropes"].items():
        top = t["top_sources"]["domain"][:3]
        row = [
            trope,
            f"{t['docs']:,}",
            "-" if t["docs_dedup"] is None else f"{t['docs_dedup']:,}",
            _num(t["per_million_docs"]),
            "-" if t["ci95"] is None else f"{_num(t['ci95'][0])}-{_num(t['ci95'][1])}",
            "-" if t["amplification"] is None else f"{t['amplification']:.2f}",
            ", ".join(f"{escape(str(s['source']))} ({s['docs']})" for s in top) or "-",
        ]
        if adjusted:
            a = t.get("adjusted") or {}
            ci = a.get("ci95")
            row.append(
                f"{_num(a.get('per_million_docs'))} [{_num(ci[0])}, {_num(ci[1])}]" if ci else a.get("why_none", "-")
            )
        table.add_row(*row)
    console.print(table)
