"""Options shared by the commands that classify (``classify``, ``eval``): the stage and the embedding model."""

from __future__ import annotations

from pathlib import Path

from scanner.classify.classifier import STAGES, Classifier
from scanner.errors import ConfigError


def build_classifier(
    *,
    taxonomy: Path | None,
    spacy_model: str | None,
    stage: str,
    model: str | None,
    device: str,
    batch_size: int,
    gate: bool,
    cache_dir: Path | None,
    calibration: Path | None,
) -> Classifier:
    """The rules classifier (cached per process), or one with the embedding stage for ``embed`` / ``cascade``."""
    from scanner.taxonomy.load import default_taxonomy_path, load_taxonomy

    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}: use {', '.join(STAGES)}")
    if stage == "rules":
        return Classifier.for_config(str(taxonomy) if taxonomy else None, spacy_model)
    from scanner.classify.embed import build_embed_stage

    path = taxonomy or default_taxonomy_path()
    loaded = load_taxonomy(path)
    embed = build_embed_stage(
        loaded,
        path,
        model=model,
        device=device,
        batch_size=batch_size,
        cache_dir=cache_dir,
        calibration_file=calibration,
    )
    return Classifier(loaded, spacy_model=spacy_model, embed=embed, stage=stage, gate=gate)  # type: ignore[arg-type]
