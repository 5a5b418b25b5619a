"""Options shared by the commands that classify (``classify``, ``eval``): the stage and the embedding model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from scanner.errors import ConfigError

if TYPE_CHECKING:
    from scanner.classify.classifier import Classifier
    from scanner.config import ClassifyConfig

TAXONOMY = typer.Option(None, "--taxonomy", "-t", help="Taxonomy YAML (default: the bundled one).")
SPACY_MODEL = typer.Option(None, "--spacy-model", help="spaCy pipeline name or path.")
STAGE = typer.Option(
    "auto",
    "--stage",
    help="cascade (rules + lexical tier + embeddings), rules, or embed (semantic stage only); auto: the cascade "
    "when the taxonomy has a calibration (the bundled one has), else rules.",
)
MODEL = typer.Option(None, "--model", help="Embedding model name or path (default: all-MiniLM-L6-v2).")
DEVICE = typer.Option("auto", "--device", help="Embedding device: cpu, cuda or auto.")
BATCH_SIZE = typer.Option(64, "--batch-size", help="Passages per encoder batch.")
NO_GATE = typer.Option(
    False, "--no-gate", help="Embed every passage (no AI-cue gate, no lexical tier): what the cascade saves."
)
CACHE_DIR = typer.Option(None, "--cache-dir", help="Exemplar index cache (default: ~/.cache/tropescan).")
CALIBRATION = typer.Option(None, "--calibration", help="Calibration JSON (default: next to the taxonomy).")
TRAIN = typer.Option(None, "--train", help="Labelled passages (gold JSONL) the calibration was fit with.")


def classify_config(
    *,
    enabled: bool = True,
    taxonomy: Path | None,
    spacy_model: str | None,
    stage: str,
    model: str | None,
    device: str,
    batch_size: int,
    no_gate: bool,
    cache_dir: Path | None,
    calibration: Path | None,
    train: Path | None,
) -> ClassifyConfig:
    """The command line's classifier options as a validated :class:`ClassifyConfig` (problems located by option)."""
    from pydantic import ValidationError

    from scanner.config import ClassifyConfig

    values = {
        "enabled": enabled,
        "taxonomy": str(taxonomy) if taxonomy else None,
        "spacy_model": spacy_model,
        "stage": stage,
        "model": model,
        "device": device,
        "batch_size": batch_size,
        "gate": not no_gate,
        "cache_dir": str(cache_dir) if cache_dir else None,
        "calibration": str(calibration) if calibration else None,
        "train": str(train) if train else None,
    }
    try:
        return ClassifyConfig.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"[--{'-'.join(str(p) for p in e['loc'])}] {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid options: {problems}") from exc


def build_classifier(**options: Any) -> Classifier:
    """Validate the command's classifier options (those of :func:`classify_config`) and build the classifier."""
    from scanner.classify.factory import build_classifier as build

    return build(classify_config(**options))
