"""The classification cascade behind ``scan``, ``classify`` and ``eval``: gate -> cues -> rules (+ genre).

One :class:`Classifier` per process; :meth:`Classifier.classify` takes a segmented :class:`Document` and returns
its :class:`DocLabels`. The embedding stage (next) plugs in behind the same call.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any, Literal

from scanner.classify.cues import CueHit, CueMatcher, fold
from scanner.classify.embed import EmbedStage, PassageEmbedding
from scanner.classify.genre import fiction_probability
from scanner.classify.nlp import LazyPipeline, resolve_pipeline_name
from scanner.classify.rules import RuleStage, TropeEvidence
from scanner.data import DocLabels, Document, Hit
from scanner.taxonomy.load import load_taxonomy, taxonomy_hash
from scanner.taxonomy.schema import Taxonomy

FICTION_THRESHOLD = 0.5
_CACHE: dict[tuple[str, str | None], Classifier] = {}
BOOK_FORMATS = frozenset({"text"})


Stage = Literal["rules", "embed", "cascade"]
STAGES: tuple[str, ...] = ("rules", "embed", "cascade")


@dataclass(slots=True)
class Classified:
    """Labels, plus every trope's best passage score in the document (0.0 where nothing was seen), which
    ``classify`` reports for every trope."""

    labels: DocLabels
    scores: dict[str, float] = field(default_factory=dict)


class Classifier:
    """Gate, cue matcher, rule stage, genre model and (optionally) the embedding stage for one taxonomy.

    ``stage``: ``rules`` (rules only), ``embed`` (the embedding stage only) or ``cascade`` (both, fused). With
    ``gate`` (the default) only passages that hold an AI-entity cue are embedded; without it every passage is.
    A passage is labelled with a trope when the rules label it (rule score >= the trope's threshold) or the
    embedding stage does (calibrated probability >= the calibrated threshold); its score is the noisy-OR of the
    two, ``1 - (1 - p_rules)(1 - p_embed)``, and ``stage`` says which labelled it (``rules``, ``embed``, ``both``).
    """

    def __init__(
        self,
        taxonomy: Taxonomy,
        *,
        spacy_model: str | None = None,
        use_hyperscan: bool = True,
        embed: EmbedStage | None = None,
        stage: Stage = "rules",
        gate: bool = True,
    ) -> None:
        if stage != "rules" and embed is None:
            raise ValueError(f"stage {stage!r} needs an embedding stage")
        self.taxonomy = taxonomy
        self.matcher = CueMatcher.from_taxonomy(taxonomy, use_hyperscan=use_hyperscan)
        self.nlp = LazyPipeline(spacy_model)
        self.rules = RuleStage(taxonomy, nlp=self.nlp)
        self.embed = embed
        self.stage = stage
        self.gate = gate
        self._thresholds = {t.id: t.threshold for t in taxonomy.tropes}

    @classmethod
    def for_config(cls, taxonomy: str | None, spacy_model: str | None) -> Classifier:
        """The rules classifier of a taxonomy file, built once per process (compiling the cue automata and the
        hyperscan databases takes a second or two; tests and ``eval`` runs build many scans)."""
        loaded = load_taxonomy(taxonomy)
        key = (taxonomy_hash(loaded), spacy_model)
        if key not in _CACHE:
            if len(_CACHE) >= 4:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = cls(loaded, spacy_model=spacy_model)
        return _CACHE[key]

    def describe(self) -> dict[str, Any]:
        """What the manifest records about the classifier."""
        out: dict[str, Any] = {
            "taxonomy": self.taxonomy.name,
            "taxonomy_version": self.taxonomy.version,
            "taxonomy_sha256": taxonomy_hash(self.taxonomy),
            "tropes": {t.id: {"polarity": t.polarity, "threshold": t.threshold} for t in self.taxonomy.tropes},
            "spacy_pipeline": resolve_pipeline_name(self.nlp.requested),
            "cue_engine": self.matcher.engine,
            "stages": {"rules": ["rules"], "embed": ["embed"], "cascade": ["rules", "embed"]}[self.stage],
        }
        if self.embed is not None and self.stage != "rules":
            cal = self.embed.calibration
            out["embedding"] = {
                "model_id": self.embed.encoder.model_id,
                "gate": self.gate,
                "k": cal.k,
                "target_precision": cal.target_precision,
                "thresholds": {t: c.threshold for t, c in cal.tropes.items()},
            }
        return out

    def __call__(self, doc: Document) -> DocLabels:
        return self.classify(doc).labels

    def classify(self, doc: Document) -> Classified:
        if doc.skip_reason is not None:
            return Classified(DocLabels())
        p_fiction = round(fiction_probability(doc.text, is_book=doc.format in BOOK_FORMATS), 4)
        labels = DocLabels(genre="fiction" if p_fiction >= FICTION_THRESHOLD else "nonfiction", genre_score=p_fiction)
        result = Classified(labels, dict.fromkeys(self.taxonomy.ids, 0.0))
        gated = bool(doc.passages) and self.matcher.gate(doc.text)
        entities: list[CueHit] = []
        folded = ""
        if gated:
            folded = fold(doc.text)  # same length as the text: rules match on it, offsets point into the text
            entities = self.matcher.find_entities(doc.text, folded)
        labels.ai_cue = bool(entities)  # the gate is a superset test
        starts = [c.start for c in entities]
        with_cue = [p for p in doc.passages if bisect_left(starts, p.start) < bisect_left(starts, p.end)]
        rule_evidence: list[TropeEvidence] = []
        if entities and self.stage != "embed":
            # Action cues matter only in passages that hold an entity cue (rules never look further).
            actions = self.matcher.find_actions(doc.text, folded, [(p.start, p.end) for p in with_cue])
            cues = sorted(entities + actions, key=lambda c: (c.start, c.end))
            rule_evidence = self.rules.run(doc.text, folded, doc.passages, cues, p_fiction=p_fiction)
        embedded: dict[int, PassageEmbedding] = {}
        if self.stage != "rules" and self.embed is not None:
            chosen = with_cue if self.gate else doc.passages
            scored = self.embed.score(doc.text, [(p.start, p.end) for p in chosen])
            embedded = {p.index: e for p, e in zip(chosen, scored, strict=True)}
        labels.hits = self._fuse(doc, rule_evidence, embedded, result.scores)
        return result

    def _fuse(
        self,
        doc: Document,
        rule_evidence: list[TropeEvidence],
        embedded: dict[int, PassageEmbedding],
        scores: dict[str, float],
    ) -> list[Hit]:
        by_key = {(ev.passage, ev.trope): ev for ev in rule_evidence}
        keys = set(by_key)
        for index, scored in embedded.items():
            keys.update((index, trope) for trope in scored.probs)
        calibration = self.embed.calibration if self.embed is not None else None
        hits: list[Hit] = []
        for passage_index, trope in sorted(keys, key=lambda k: (k[0], self.taxonomy.ids.index(k[1]))):
            ev = by_key.get((passage_index, trope))
            emb = embedded.get(passage_index)
            p_rules = ev.score if ev is not None else 0.0
            p_embed = emb.probs.get(trope, 0.0) if emb is not None else 0.0
            score = round(1.0 - (1.0 - p_rules) * (1.0 - p_embed), 4)
            scores[trope] = max(scores[trope], score)
            by_rules = ev is not None and p_rules >= self._thresholds[trope]
            by_embed = calibration is not None and emb is not None and p_embed >= calibration.tropes[trope].threshold
            if not (by_rules or by_embed):
                continue
            detail: dict[str, Any] = ev.detail() if by_rules and ev is not None else {}
            if by_embed and emb is not None:
                ref, similarity = emb.nearest.get(trope, ("", 0.0))
                detail.update(exemplar=ref, similarity=similarity, p_embed=p_embed)
            passage = doc.passages[passage_index]
            start, end = (ev.start, ev.end) if by_rules and ev is not None else (passage.start, passage.end)
            hits.append(
                Hit(
                    doc_id=doc.doc_id,
                    start=start,
                    end=end,
                    trope=trope,
                    score=score,
                    stage="both" if by_rules and by_embed else ("rules" if by_rules else "embed"),
                    evidence=json.dumps(detail, sort_keys=True, ensure_ascii=False, separators=(",", ":")),
                )
            )
        return hits
