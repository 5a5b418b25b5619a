"""``tropescan report``: aggregate a scan's results directory into report.json and show the prevalence table."""

from __future__ import annotations

from pathlib import Path

import typer

from scanner.cli.console import make_console
from scanner.errors import ConfigError


def report_command(
    results: Path = typer.Argument(..., help="A scan's results directory (--out of tropescan scan)."),
    eval_file: Path = typer.Option(
        None, "--eval", help="tropescan eval --json output: adds error-adjusted prevalence with its interval."
    ),
    top: int = typer.Option(20, "--top", help="Sources listed per trope and kind."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Write report.json only."),
) -> None:
    """Raw and deduplicated prevalence per trope (Wilson CIs), amplification, genre, top sources, concentration,
    aligned-to-misaligned balance per source; written to RESULTS/report.json."""
    from scanner.aggregate.report import build_report, write_report
    from scanner.report.prevalence import render_prevalence

    try:
        report = build_report(results, eval_file=eval_file, top=top)
    except ConfigError as exc:
        make_console(stderr=True).print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from exc
    path = write_report(results, report)
    if not quiet:
        console = make_console()
        render_prevalence(console, report)
        console.print(f"wrote {path}", markup=False, highlight=False)
