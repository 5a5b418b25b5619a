"""The classification cascade behind ``scan``, ``classify`` and ``eval``: gate -> cues -> rules (+ genre).

One :class:`Classifier` per process; :meth:`Classifier.classify` takes a segmented :class:`Document` and returns
its :class:`DocLabels`. The embedding stage (next) plugs in behind the same call.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

from scanner.classify.cues import CueMatcher, fold
from scanner.classify.genre import fiction_probability
from scanner.classify.nlp import LazyPipeline, resolve_pipeline_name
from scanner.classify.rules import RuleStage, TropeEvidence
from scanner.data import DocLabels, Document, Hit
from scanner.taxonomy.load import load_taxonomy, taxonomy_hash
from scanner.taxonomy.schema import Taxonomy

FICTION_THRESHOLD = 0.5
_CACHE: dict[tuple[str, str | None], Classifier] = {}
BOOK_FORMATS = frozenset({"text"})


@dataclass(slots=True)
class Classified:
    """Labels plus everything the rules saw, including candidates below threshold (for ``classify``'s scores)."""

    labels: DocLabels
    evidence: list[TropeEvidence] = field(default_factory=list)


class Classifier:
    """Gate, cue matcher, rule stage and genre model for one taxonomy."""

    def __init__(self, taxonomy: Taxonomy, *, spacy_model: str | None = None, use_hyperscan: bool = True) -> None:
        self.taxonomy = taxonomy
        self.matcher = CueMatcher.from_taxonomy(taxonomy, use_hyperscan=use_hyperscan)
        self.nlp = LazyPipeline(spacy_model)
        self.rules = RuleStage(taxonomy, nlp=self.nlp)
        self._thresholds = {t.id: t.threshold for t in taxonomy.tropes}

    @classmethod
    def for_config(cls, taxonomy: str | None, spacy_model: str | None) -> Classifier:
        """The classifier of a taxonomy file, built once per process (compiling the cue automata and the
        hyperscan database takes a fraction of a second; tests and ``eval`` runs build many scans)."""
        loaded = load_taxonomy(taxonomy)
        key = (taxonomy_hash(loaded), spacy_model)
        if key not in _CACHE:
            if len(_CACHE) >= 4:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = cls(loaded, spacy_model=spacy_model)
        return _CACHE[key]

    def describe(self) -> dict[str, Any]:
        """What the manifest records about the classifier."""
        return {
            "taxonomy": self.taxonomy.name,
            "taxonomy_version": self.taxonomy.version,
            "taxonomy_sha256": taxonomy_hash(self.taxonomy),
            "tropes": {t.id: {"polarity": t.polarity, "threshold": t.threshold} for t in self.taxonomy.tropes},
            "spacy_pipeline": resolve_pipeline_name(self.nlp.requested),
            "cue_engine": self.matcher.engine,
            "stages": ["rules"],
        }

    def __call__(self, doc: Document) -> DocLabels:
        return self.classify(doc).labels

    def classify(self, doc: Document) -> Classified:
        if doc.skip_reason is not None:
            return Classified(DocLabels())
        p_fiction = round(fiction_probability(doc.text, is_book=doc.format in BOOK_FORMATS), 4)
        labels = DocLabels(genre="fiction" if p_fiction >= FICTION_THRESHOLD else "nonfiction", genre_score=p_fiction)
        if not doc.passages or not self.matcher.gate(doc.text):
            labels.ai_cue = False
            return Classified(labels)
        folded = fold(doc.text)  # same length as the text: rules match on it, offsets point into the text
        entities = self.matcher.find_entities(doc.text, folded)
        labels.ai_cue = bool(entities)  # the gate is a superset test
        if not labels.ai_cue:
            return Classified(labels)
        # Action cues matter only in passages that hold an entity cue (rules never look further).
        starts = [c.start for c in entities]
        regions = [(p.start, p.end) for p in doc.passages if bisect_left(starts, p.start) < bisect_left(starts, p.end)]
        cues = sorted(entities + self.matcher.find_actions(doc.text, folded, regions), key=lambda c: (c.start, c.end))
        evidence = self.rules.run(doc.text, folded, doc.passages, cues, p_fiction=p_fiction)
        labels.hits = [
            Hit(
                doc_id=doc.doc_id,
                start=ev.start,
                end=ev.end,
                trope=ev.trope,
                score=ev.score,
                stage="rules",
                evidence=json.dumps(ev.detail(), sort_keys=True, ensure_ascii=False, separators=(",", ":")),
            )
            for ev in evidence
            if ev.score >= self._thresholds[ev.trope]
        ]
        return Classified(labels, evidence)
