"""Options shared by the commands that classify (``classify``, ``eval``): the stage and the embedding model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from scanner.errors import ConfigError

if TYPE_CHECKING:
    from scanner.classify.classifier import Classifier

STAGE_NAMES = ("rules", "embed", "cascade")

TAXONOMY = typer.Option(None, "--taxonomy", "-t", help="Taxonomy YAML (default: the bundled one).")
SPACY_MODEL = typer.Option(None, "--spacy-model", help="spaCy pipeline name or path.")
STAGE = typer.Option("rules", "--stage", help="rules, embed or cascade (embedding stage: experimental).")
MODEL = typer.Option(None, "--model", help="Embedding model name or path (default: all-MiniLM-L6-v2).")
DEVICE = typer.Option("auto", "--device", help="Embedding device: cpu, cuda or auto.")
BATCH_SIZE = typer.Option(64, "--batch-size", help="Passages per encoder batch.")
NO_GATE = typer.Option(False, "--no-gate", help="Embed every passage, not only those with an AI cue.")
CACHE_DIR = typer.Option(None, "--cache-dir", help="Exemplar index cache (default: ~/.cache/tropescan).")
CALIBRATION = typer.Option(None, "--calibration", help="Calibration JSON (default: next to the taxonomy).")
TRAIN = typer.Option(None, "--train", help="Labelled passages (gold JSONL) the calibration was fit with.")


@dataclass(frozen=True, slots=True)
class ClassifierSettings:
    taxonomy: Path | None
    spacy_model: str | None
    stage: str
    model: str | None
    device: str
    batch_size: int
    gate: bool
    cache_dir: Path | None
    calibration: Path | None
    train: Path | None = None


def build_classifier(settings: ClassifierSettings) -> Classifier:
    """The rules classifier (cached per process), or one with the embedding stage for ``embed`` / ``cascade``."""
    from scanner.classify.classifier import Classifier
    from scanner.taxonomy.load import default_taxonomy_path, load_taxonomy

    taxonomy, spacy_model, stage = settings.taxonomy, settings.spacy_model, settings.stage

    if stage not in STAGE_NAMES:
        raise ConfigError(f"unknown stage {stage!r}: use {', '.join(STAGE_NAMES)}")
    if stage == "rules":
        return Classifier.for_config(str(taxonomy) if taxonomy else None, spacy_model)
    from scanner.classify.embed import build_embed_stage

    path = taxonomy or default_taxonomy_path()
    loaded = load_taxonomy(path)
    embed = build_embed_stage(
        loaded,
        path,
        model=settings.model,
        device=settings.device,
        batch_size=settings.batch_size,
        cache_dir=settings.cache_dir,
        calibration_file=settings.calibration,
        train_file=settings.train,
    )
    return Classifier(loaded, spacy_model=spacy_model, embed=embed, stage=stage, gate=settings.gate)  # type: ignore[arg-type]
