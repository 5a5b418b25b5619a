"""``tropescan eval``: run the classifier over a gold set and report how good it is."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from scanner.cli.console import make_console
from scanner.errors import ConfigError


def eval_command(
    gold: list[Path] = typer.Argument(..., help='Gold JSON Lines: {"id", "text", "labels"} or references.'),
    json_out: Path = typer.Option(None, "--json", help="Also write the numbers as JSON."),
    taxonomy: Path = typer.Option(None, "--taxonomy", "-t", help="Taxonomy YAML (default: the bundled one)."),
    refs_root: Path = typer.Option(
        None, "--refs-root", help="Root that reference lines' 'file' is relative to (default: ../shared/corpora)."
    ),
    spacy_model: str = typer.Option(None, "--spacy-model", help="spaCy pipeline name or path."),
    stage: str = typer.Option("rules", "--stage", help="rules, embed or cascade (embedding stage: experimental)."),
    model: str = typer.Option(None, "--model", help="Embedding model name or path (default: all-MiniLM-L6-v2)."),
    device: str = typer.Option("auto", "--device", help="Embedding device: cpu, cuda or auto."),
    batch_size: int = typer.Option(64, "--batch-size", help="Passages per encoder batch."),
    no_gate: bool = typer.Option(False, "--no-gate", help="Embed every passage, not only those with an AI cue."),
    cache_dir: Path = typer.Option(None, "--cache-dir", help="Exemplar index cache (default: ~/.cache/tropescan)."),
    calibration: Path = typer.Option(None, "--calibration", help="Calibration JSON (default: next to the taxonomy)."),
    predictions: Path = typer.Option(None, "--predictions", help="Also write each item's prediction (JSONL)."),
) -> None:
    """Per-trope precision, recall, F1 (Wilson 95% CIs), micro/macro F1, any-trope detection, confusions, genre."""
    from scanner.cli.options import build_classifier
    from scanner.evaluate.run import run_eval
    from scanner.report.evaluation import render_eval

    console = make_console()
    try:
        classifier = build_classifier(
            taxonomy=taxonomy,
            spacy_model=spacy_model,
            stage=stage,
            model=model,
            device=device,
            batch_size=batch_size,
            gate=not no_gate,
            cache_dir=cache_dir,
            calibration=calibration,
        )
        report, rows = run_eval(classifier, gold, refs_root=refs_root)
    except ConfigError as exc:
        make_console(stderr=True).print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from exc
    render_eval(report, console)
    if json_out is not None:
        json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if predictions is not None:
        with predictions.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
