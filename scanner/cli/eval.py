"""``tropescan eval``: run the classifier over a gold set and report how good it is."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from scanner.cli import options
from scanner.cli.console import make_console
from scanner.cli.options import build_classifier
from scanner.errors import ConfigError


def eval_command(
    gold: list[Path] = typer.Argument(..., help='Gold JSON Lines: {"id", "text", "labels"} or references.'),
    json_out: Path = typer.Option(None, "--json", help="Also write the numbers as JSON."),
    taxonomy: Path = options.TAXONOMY,
    refs_root: Path = typer.Option(
        None, "--refs-root", help="Root that reference lines' 'file' is relative to (default: ../shared/corpora)."
    ),
    spacy_model: str = options.SPACY_MODEL,
    stage: str = options.STAGE,
    model: str = options.MODEL,
    device: str = options.DEVICE,
    batch_size: int = options.BATCH_SIZE,
    no_gate: bool = options.NO_GATE,
    cache_dir: Path = options.CACHE_DIR,
    calibration: Path = options.CALIBRATION,
    train: Path = options.TRAIN,
    predictions: Path = typer.Option(None, "--predictions", help="Also write each item's prediction (JSONL)."),
) -> None:
    """Per-trope precision, recall, F1 (Wilson 95% CIs), micro/macro F1, any-trope detection, confusions, genre."""
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
            no_gate=no_gate,
            cache_dir=cache_dir,
            calibration=calibration,
            train=train,
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
