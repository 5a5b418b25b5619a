"""The ``tropescan`` command: a thin typer app; each command lives in its own module."""

from __future__ import annotations

import typer

from scanner import __version__

app = typer.Typer(
    name="tropescan",
    help="Measure AI-misalignment narratives (and aligned counter-tropes) in pretraining corpora.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tropescan {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """tropescan: reader -> extract -> segment -> rules -> embeddings -> dedup -> aggregate -> report."""


def _register() -> None:
    from scanner.cli import calibrate, classify, compare, eval, filter_lists, report, scan, taxonomy

    app.command("scan")(scan.scan_command)
    app.command("classify")(classify.classify_command)
    app.command("eval")(eval.eval_command)
    app.command("calibrate")(calibrate.calibrate_command)
    app.command("report")(report.report_command)
    app.command("filter-lists")(filter_lists.filter_lists_command)
    app.command("compare")(compare.compare_command)
    app.add_typer(taxonomy.app, name="taxonomy")


def main() -> None:
    _register()
    app()
