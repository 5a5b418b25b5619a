"""Build the classifier a configuration describes (used by ``scan``, ``classify`` and ``eval``)."""

from __future__ import annotations

from pathlib import Path

from scanner.classify.classifier import Classifier
from scanner.config import ClassifyConfig


def build_classifier(config: ClassifyConfig) -> Classifier:
    """The rules classifier (cached per process), or one with the embedding stage for ``embed`` / ``cascade``
    (loads the embedding model and the exemplar index; the calibration must exist: ``tropescan calibrate``)."""
    from scanner.taxonomy.load import default_taxonomy_path, load_taxonomy

    if config.stage == "rules":
        return Classifier.for_config(config.taxonomy, config.spacy_model)
    from scanner.classify.embed import build_embed_stage

    path = Path(config.taxonomy) if config.taxonomy else default_taxonomy_path()
    taxonomy = load_taxonomy(path)
    embed = build_embed_stage(
        taxonomy,
        path,
        model=config.model,
        device=config.device,
        batch_size=config.batch_size,
        cache_dir=Path(config.cache_dir) if config.cache_dir else None,
        calibration_file=Path(config.calibration) if config.calibration else None,
        train_file=Path(config.train) if config.train else None,
    )
    return Classifier(taxonomy, spacy_model=config.spacy_model, embed=embed, stage=config.stage, gate=config.gate)
