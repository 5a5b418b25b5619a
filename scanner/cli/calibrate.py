"""``tropescan calibrate``: fit the embedding stage's per-trope calibration and thresholds."""

from __future__ import annotations

from pathlib import Path

import typer

from scanner.cli.console import make_console
from scanner.errors import ConfigError


def calibrate_command(
    taxonomy: Path = typer.Option(None, "--taxonomy", "-t", help="Taxonomy YAML (default: the bundled one)."),
    model: str = typer.Option(None, "--model", help="Embedding model name or path (default: all-MiniLM-L6-v2)."),
    device: str = typer.Option("auto", "--device", help="cpu, cuda or auto."),
    batch_size: int = typer.Option(64, "--batch-size", help="Passages per encoder batch."),
    target_precision: float = typer.Option(0.8, "--target-precision", help="Precision each threshold aims for."),
    escalation_recall: float = typer.Option(
        0.98, "--escalation-recall", help="Share of the full stage's true positives the lexical tier must pass on."
    ),
    k: int = typer.Option(10, "--k", help="Nearest exemplars that vote."),
    out: Path = typer.Option(None, "--out", "-o", help="Where to write (default: next to the taxonomy)."),
    cache_dir: Path = typer.Option(None, "--cache-dir", help="Exemplar index cache (default: ~/.cache/tropescan)."),
    train: Path = typer.Option(None, "--train", help="Labelled passages (gold JSONL) added to the exemplars."),
) -> None:
    """Embed the taxonomy's exemplars (+ --train), fit the lexical and embedding heads, and from their k-fold
    out-of-fold scores a probability, a threshold and an escalation bound per trope."""
    from scanner.classify.calibration import calibration_path, fit_calibration
    from scanner.classify.embed import default_cache_dir, heads_cache_path, load_train, relative_train_path
    from scanner.classify.encoder import SentenceTransformerEncoder
    from scanner.classify.index import ExemplarIndex
    from scanner.taxonomy.load import default_taxonomy_path, load_taxonomy

    console = make_console(stderr=True)
    try:
        path = taxonomy or default_taxonomy_path()
        loaded = load_taxonomy(path)
        rows, train_sha = load_train(train, loaded) if train is not None else (None, None)
        encoder = SentenceTransformerEncoder(model, device=device, batch_size=batch_size)
        index = ExemplarIndex.build(loaded, encoder, cache_dir=(cache_dir or default_cache_dir()) / "index", train=rows)
        target = out or calibration_path(path)
        calibration, heads = fit_calibration(
            loaded,
            index,
            model_id=encoder.model_id,
            k=k,
            target_precision=target_precision,
            escalation_recall=escalation_recall,
            train_sha256=train_sha,
            train_file=relative_train_path(train, target) if train is not None else None,
        )
    except ConfigError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from exc
    calibration.save(target)
    heads.save(heads_cache_path(index, cache_dir or default_cache_dir()))
    console.print(f"{'trope':25s} threshold  cv precision  cv recall  escalation recall  positives", markup=False)
    for trope, cal in calibration.tropes.items():
        console.print(
            f"{trope:25s} {cal.threshold:9.3f}  {_fmt(cal.cv_precision):>12s}  {_fmt(cal.cv_recall):>9s}  "
            f"{_fmt(cal.escalation_recall):>17s}  {cal.positives:9d}",
            markup=False,
            highlight=False,
        )
    console.print(f"wrote {target}", markup=False, highlight=False)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
