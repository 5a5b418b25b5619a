"""The classification cascade behind ``scan``, ``classify`` and ``eval``: gate -> cues -> rules (+ genre) ->
lexical tier -> sentence embeddings.

One :class:`Classifier` per process; :meth:`Classifier.classify` takes a segmented :class:`Document` and returns
its :class:`DocLabels`.
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
from scanner.data import DocLabels, Document, Hit, Passage
from scanner.taxonomy.load import load_taxonomy, taxonomy_hash
from scanner.taxonomy.schema import Taxonomy

FICTION_THRESHOLD = 0.5
CONTEXT_PASSAGES = 2  # the semantic stage considers passages up to this far from one with an AI-entity cue
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
    # passages that reached each tier: all, past the gate (an AI-entity cue in or near them), scored by the
    # lexical tier, embedded
    tiers: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TIERS, 0))


TIERS: tuple[str, ...] = ("passages", "gated", "lexical", "embedded")


@dataclass(slots=True)
class _Pending:
    """A document between the cheap stages and the embeddings."""

    doc: Document
    result: Classified
    rule_evidence: list[TropeEvidence] = field(default_factory=list)
    chosen: list[Passage] = field(default_factory=list)  # the passages the semantic stage scores
    spans: list[tuple[int, int]] | None = None  # their spans; None: no semantic stage
    escalate: bool = True


class Classifier:
    """Gate, cue matcher, rule stage, genre model and (optionally) the embedding stage for one taxonomy.

    ``stage``: ``rules`` (rules only), ``embed`` (the embedding stage only) or ``cascade`` (both, fused). With
    ``gate`` (the default) only passages that hold an AI-entity cue, or lie within ``context`` passages of one, are
    scored by the semantic stage; without it every passage is.
    A passage is labelled with a trope when the rules label it (rule score >= the trope's threshold) or the
    semantic stage does (calibrated probability >= the calibrated threshold); its score is the noisy-OR of the
    two, ``1 - (1 - p_rules)(1 - p_embed)``, and ``stage`` says which labelled it (``rules``, ``embed``, ``both``).
    In the cascade the semantic stage embeds only the passages its lexical tier passes (see
    :mod:`scanner.classify.embed`); the ``embed`` stage and ``gate=False`` embed every passage they consider.
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
        context: int = CONTEXT_PASSAGES,
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
        self.context = context
        self.tier_totals = dict.fromkeys(TIERS, 0)  # over every document this classifier has seen
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
            "stage": self.stage,
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

    def label_many(self, docs: list[Document]) -> list[DocLabels]:
        """:meth:`classify_many`'s labels (the scan pipeline labels blocks of documents with this)."""
        return [c.labels for c in self.classify_many(docs)]

    def classify(self, doc: Document) -> Classified:
        return self.classify_many([doc])[0]

    def classify_many(self, docs: list[Document]) -> list[Classified]:
        """Classify documents together: the passages the semantic stage embeds are encoded in shared batches
        (what keeps a GPU, or the CPU's matrix kernels, busy); each document's result is what
        :meth:`classify` gives it alone, up to the encoder's floating-point noise across batch shapes (a scan's
        blocks are fixed by its input, so a scan's output bytes do not change from run to run)."""
        pending = [self._front(doc) for doc in docs]
        work = [(p.doc.text, p.spans, p.escalate) for p in pending if p.spans is not None]
        scored = iter(self.embed.score_many(work) if work and self.embed is not None else [])
        out: list[Classified] = []
        for p in pending:
            embedded: dict[int, PassageEmbedding] = {}
            if p.spans is not None:
                results = next(scored)
                embedded = {p.chosen[i].index: e for i, e in enumerate(results)}
                p.result.tiers["lexical"] = len(results)
                p.result.tiers["embedded"] = sum(e.embedded for e in results)
            if p.doc.skip_reason is None:
                p.result.labels.hits = self._fuse(p.doc, p.rule_evidence, embedded, p.result.scores)
            for tier, count in p.result.tiers.items():
                self.tier_totals[tier] += count
            out.append(p.result)
        return out

    def _front(self, doc: Document) -> _Pending:
        """Everything before the embeddings: genre, gate, cues, rules, and which passages the semantic stage
        scores."""
        if doc.skip_reason is not None:
            return _Pending(doc, Classified(DocLabels()))
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
        # The semantic stage also considers the passages near one with a cue: stories name the machine once,
        # then say "it" or its name for pages.
        near = {q for p in with_cue for q in range(p.index - self.context, p.index + self.context + 1)}
        considered = [p for p in doc.passages if p.index in near]
        pending = _Pending(doc, result)
        if entities and self.stage != "embed":
            # Action cues matter only in passages that hold an entity cue (rules never look further).
            actions = self.matcher.find_actions(doc.text, folded, [(p.start, p.end) for p in with_cue])
            cues = sorted(entities + actions, key=lambda c: (c.start, c.end))
            pending.rule_evidence = self.rules.run(doc.text, folded, doc.passages, cues, p_fiction=p_fiction)
        result.tiers["passages"] = len(doc.passages)
        result.tiers["gated"] = len(considered)
        if self.stage != "rules" and self.embed is not None:
            pending.chosen = considered if self.gate else list(doc.passages)
            pending.spans = [(p.start, p.end) for p in pending.chosen]
            # the cascade embeds only what the lexical tier passes; the embed stage and --no-gate embed all
            pending.escalate = self.gate and self.stage == "cascade"
        return pending

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
            by_embed = (
                calibration is not None
                and emb is not None
                and emb.embedded
                and p_embed >= calibration.tropes[trope].threshold
            )
            if not (by_rules or by_embed):
                continue
            detail: dict[str, Any] = ev.detail() if by_rules and ev is not None else {}
            if by_embed and emb is not None:
                ref, similarity = emb.nearest.get(trope, ("", 0.0))
                detail.update(
                    exemplar=ref,
                    similarity=similarity,
                    p_embed=p_embed,
                    p_lexical=emb.p_lexical.get(trope, 0.0),
                    terms=emb.terms.get(trope, []),
                )
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
