"""``tropescan taxonomy validate|show``: check a taxonomy file, or print its tropes as a table."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from scanner.cli.console import make_console
from scanner.errors import ConfigError
from scanner.taxonomy.load import default_taxonomy_path, load_taxonomy, taxonomy_hash, validate_taxonomy_file

app = typer.Typer(help="Validate or show a taxonomy (taxonomies/*.yaml).", no_args_is_help=True)


@app.command("validate")
def validate_command(
    file: Path = typer.Argument(..., help="Taxonomy YAML file."),
) -> None:
    """Report every problem in a taxonomy at once, each with its YAML path and line. Exit status 1 if any."""
    out, err = make_console(), make_console(stderr=True)
    try:
        taxonomy, problems = validate_taxonomy_file(file)
    except ConfigError as exc:
        err.print(f"[red]error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(1) from exc
    if taxonomy is None:
        err.print(f"[red]{file}: {len(problems)} problem(s)[/]", highlight=False)
        for problem in problems:
            err.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    n_ex = sum(len(t.exemplars.positive) + len(t.exemplars.negative) for t in taxonomy.tropes)
    out.print(
        f"{file}: valid taxonomy {taxonomy.name} v{taxonomy.version}: {len(taxonomy.tropes)} tropes, "
        f"{sum(len(t.patterns) for t in taxonomy.tropes)} patterns, {n_ex} exemplars "
        f"(sha256 {taxonomy_hash(taxonomy)[:12]})",
        markup=False,
        highlight=False,
    )


@app.command("show")
def show_command(
    file: Path = typer.Argument(None, help="Taxonomy YAML file (default: taxonomies/ai_self_preservation.yaml)."),
) -> None:
    """Print the taxonomy's tropes: polarity, definition, and how many cues, patterns and exemplars each has."""
    console = make_console()
    try:
        path = file or default_taxonomy_path()
        taxonomy = load_taxonomy(path)
    except ConfigError as exc:
        make_console(stderr=True).print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from exc
    table = Table(title=f"{taxonomy.name} v{taxonomy.version} ({path})")
    table.add_column("id", style="bold")
    table.add_column("polarity")
    table.add_column("definition", ratio=1)
    table.add_column("cues", justify="right")
    table.add_column("patterns", justify="right")
    table.add_column("exemplars +/-", justify="right")
    table.add_column("threshold", justify="right")
    for t in taxonomy.tropes:
        table.add_row(
            t.id,
            t.polarity,
            t.definition,
            str(len(t.lexicon)),
            str(len(t.patterns)),
            f"{len(t.exemplars.positive)}/{len(t.exemplars.negative)}",
            f"{t.threshold:g}",
        )
    console.print(table)
    console.print(
        f"AI-entity cues: {len(taxonomy.entities.cues) + len(taxonomy.entities.case_sensitive)} "
        f"({len(taxonomy.entities.case_sensitive)} case-sensitive); agent nouns: {len(taxonomy.entities.agents)}",
        markup=False,
        highlight=False,
    )
