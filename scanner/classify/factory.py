"""Build the classifier a configuration describes (used by ``scan``, ``classify`` and ``eval``)."""

from __future__ import annotations

import logging
from pathlib import Path

from scanner.classify.classifier import Classifier, Stage
from scanner.config import ClassifyConfig

log = logging.getLogger(__name__)
_EMBED_CACHE: dict[str, Classifier] = {}


def build_classifier(config: ClassifyConfig) -> Classifier:
    """The rules classifier (cached per process), or one with the embedding stage for ``embed`` / ``cascade``
    (loads the embedding model and the exemplar index; the calibration must exist: ``tropescan calibrate``)."""
    config = resolve_stage(config)
    if config.stage == "rules":
        return Classifier.for_config(config.taxonomy, config.spacy_model)
    key = config.model_dump_json()
    if key not in _EMBED_CACHE:  # loading the model and the index takes seconds: once per process and config
        if len(_EMBED_CACHE) >= 2:
            _EMBED_CACHE.pop(next(iter(_EMBED_CACHE)))
        _EMBED_CACHE[key] = _build_semantic(config)
    return _EMBED_CACHE[key]


def resolve_stage(config: ClassifyConfig) -> ClassifyConfig:
    """``stage: auto`` made concrete: the cascade when the taxonomy has a calibration (or one is given), else the
    rules alone, with a warning that says how to get the cascade."""
    if config.stage != "auto":
        return config
    from scanner.classify.calibration import calibration_path
    from scanner.taxonomy.load import default_taxonomy_path

    taxonomy = Path(config.taxonomy) if config.taxonomy else default_taxonomy_path()
    calibration = Path(config.calibration) if config.calibration else calibration_path(taxonomy)
    if calibration.is_file():
        return config.model_copy(update={"stage": "cascade"})
    log.warning(
        "%s: no calibration, so the rules alone classify (recall is far lower); run tropescan calibrate "
        "--taxonomy %s for the cascade",
        calibration,
        taxonomy,
    )
    return config.model_copy(update={"stage": "rules"})


def _build_semantic(config: ClassifyConfig) -> Classifier:
    from scanner.classify.embed import build_embed_stage
    from scanner.taxonomy.load import default_taxonomy_path, load_taxonomy

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
    stage: Stage = "embed" if config.stage == "embed" else "cascade"
    return Classifier(taxonomy, spacy_model=config.spacy_model, embed=embed, stage=stage, gate=config.gate)
