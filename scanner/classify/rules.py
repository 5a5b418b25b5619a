"""The rule stage: candidate sentences from cues, then taxonomy patterns checked on a spaCy parse.

For each passage that holds an AI-entity cue, a sentence is a *candidate* for a trope when it holds one of the
trope's lexicon cues and an AI-entity cue lies in it or in the two sentences before it (pronouns refer back).
Only candidate sentences are parsed. Patterns:

- ``regex``: searched in the candidate sentence. The verb it matches must not be negated ("did not resist"), and
  with ``subject: ai`` the verb's acting subject must be AI-like: an AI cue, an agent noun of the taxonomy, a
  pronoun or a proper name. A passive clause's subject is not its actor ("the server was shut down"): only a
  ``by``-agent can be.
- ``dependency``: a verb with one of the lemmas, not negated, with an AI-like subject (as above) and, when
  ``objects`` are given, one of those lemmas in its subtree.
- ``cooccur``: at least ``min_cues`` distinct lexicon cues of the trope in the passage (topic tropes).

A passage's score for a trope combines the weights of the distinct patterns that fired by noisy-OR,
``1 - prod(1 - w)``; a weight is scaled by the document's genre probability when the pattern names a genre
(``min(1, 2 p)``), and by 0.8 when the clause has no subject to check. Where no pattern fires but a candidate
sentence exists, the score is :data:`CUE_SCORE` (a signal for later stages, below every default threshold).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from scanner.classify.cues import ENTITY, CueHit, cues_between
from scanner.classify.nlp import LazyPipeline
from scanner.classify.sentences import split_sentences
from scanner.data import Passage
from scanner.taxonomy.schema import Pattern, Taxonomy

CUE_SCORE = 0.2
CONTEXT_SENTENCES = 2
NO_SUBJECT_FACTOR = 0.8
MAX_SCORE = 0.99

_PRONOUNS = frozenset({"it", "he", "she", "they", "i", "we", "you", "itself", "himself", "herself", "one"})
_RELATIVE = frozenset({"who", "that", "which"})
_NEG_WORDS = frozenset({"not", "n't", "never", "no", "nothing", "neither", "nor", "without"})
# Walking up from the matched word to the verbs that govern it ("made no attempt to escape").
_GOVERNED = frozenset({"xcomp", "acl", "advcl", "ccomp", "dobj", "pobj", "prep", "aux", "auxpass", "attr", "oprd"})
_SUBJECT_CLIMB = frozenset({"xcomp", "conj", "advcl", "ccomp", "acl", "pcomp", "prep", "pobj"})


@dataclass(slots=True)
class RuleMatch:
    """One pattern firing: where (document offsets) and why."""

    pattern: str
    weight: float
    start: int
    end: int
    subject: str | None = None


@dataclass(slots=True)
class TropeEvidence:
    """Everything the rule stage found for one (passage, trope)."""

    trope: str
    passage: int
    score: float
    start: int
    end: int
    matches: list[RuleMatch] = field(default_factory=list)
    cues: list[str] = field(default_factory=list)

    def detail(self) -> dict[str, Any]:
        """The evidence as a JSON-ready dict: the rules that fired (best first), the cues, the subject."""
        best = self.matches[0] if self.matches else None
        out: dict[str, Any] = {
            "rules": [f"{self.trope}/{m.pattern}" for m in self.matches],
            "cues": self.cues,
        }
        if best is not None and best.subject:
            out["subject"] = best.subject
        return out


@dataclass(slots=True)
class _Candidate:
    passage: Passage
    trope: str
    sentences: list[tuple[int, int]]
    cues: list[CueHit]


class RuleStage:
    """The compiled rules of one taxonomy."""

    def __init__(self, taxonomy: Taxonomy, *, nlp: LazyPipeline) -> None:
        self.taxonomy = taxonomy
        self.nlp = nlp
        self._regex: dict[tuple[str, str], re.Pattern[str]] = {
            (t.id, p.id): re.compile(p.regex, re.IGNORECASE)
            for t in taxonomy.tropes
            for p in t.patterns
            if p.kind == "regex" and p.regex
        }
        self._agents = frozenset(a.lower() for a in taxonomy.entities.agents)
        self._needs_parse = {t.id: any(p.kind != "cooccur" for p in t.patterns) for t in taxonomy.tropes}
        self._passage_level = {t.id for t in taxonomy.tropes if any(p.kind == "cooccur" for p in t.patterns)}
        self._dependent = {t.id for t in taxonomy.tropes if any(p.with_tropes for p in t.patterns)}
        self._thresholds = {t.id: t.threshold for t in taxonomy.tropes}
        self._cue_sets = {
            (t.id, p.id): frozenset(c.rstrip("*") for c in p.cues) for t in taxonomy.tropes for p in t.patterns
        }

    def run(self, text: str, passages: list[Passage], cues: list[CueHit], *, p_fiction: float) -> list[TropeEvidence]:
        """Evidence for every (passage, trope) with a candidate sentence, in passage then taxonomy order."""
        starts = [c.start for c in cues]
        candidates = [
            c for p in passages for c in self._candidates(text, p, cues_between(cues, starts, p.start, p.end))
        ]
        to_parse = sorted({s for c in candidates if self._needs_parse[c.trope] for s in c.sentences})
        parsed = dict(zip(to_parse, self.nlp.parse_many([text[s:e] for s, e in to_parse]), strict=True))
        out = [self._evaluate(text, cand, cues, starts, parsed, p_fiction, None) for cand in candidates]
        if self._dependent:
            # Second pass: patterns that fire only beside another trope's label in the same passage.
            labelled: dict[int, set[str]] = {}
            for ev in out:
                if ev.score >= self._thresholds[ev.trope]:
                    labelled.setdefault(ev.passage, set()).add(ev.trope)
            out = [
                self._evaluate(text, cand, cues, starts, parsed, p_fiction, labelled.get(cand.passage.index, set()))
                if cand.trope in self._dependent and labelled.get(cand.passage.index)
                else ev
                for cand, ev in zip(candidates, out, strict=True)
            ]
        return [ev for ev in out if ev.score > 0.0]

    def _candidates(self, text: str, passage: Passage, pcues: list[CueHit]) -> Iterable[_Candidate]:
        if not any(ENTITY in c.classes for c in pcues):
            return
        tropes = {cls for c in pcues for cls in c.classes if cls != ENTITY}
        if not tropes:
            return
        sentences = split_sentences(text, passage.start, passage.end)
        has_entity = [False] * len(sentences)
        trope_sents: dict[str, list[int]] = {}
        j = 0
        for cue in pcues:
            while j < len(sentences) - 1 and cue.start >= sentences[j][1]:
                j += 1
            for cls in cue.classes:
                if cls == ENTITY:
                    has_entity[j] = True
                else:
                    trope_sents.setdefault(cls, []).append(j)
        for trope in self.taxonomy.tropes:
            idx = trope_sents.get(trope.id)
            if not idx:
                continue
            chosen = sorted({i for i in idx if any(has_entity[max(0, i - CONTEXT_SENTENCES) : i + 1])})
            if chosen or trope.id in self._passage_level:
                yield _Candidate(passage, trope.id, [sentences[i] for i in chosen], pcues)

    def _evaluate(
        self,
        text: str,
        cand: _Candidate,
        cues: list[CueHit],
        starts: list[int],
        parsed: dict[tuple[int, int], Any],
        p_fiction: float,
        labelled: set[str] | None,
    ) -> TropeEvidence:
        """Score one candidate. ``labelled``: the passage's other labels (None in the first pass, which skips
        patterns with ``with_tropes``)."""
        trope = self.taxonomy.trope(cand.trope)
        trope_cues = [c for c in cand.cues if cand.trope in c.classes]
        best: dict[str, RuleMatch] = {}
        for pattern in trope.patterns:
            if pattern.with_tropes and (labelled is None or not labelled.intersection(pattern.with_tropes)):
                continue
            factor = _genre_factor(pattern, p_fiction)
            if factor <= 0.0:
                continue
            for match in self._fire(text, cand, pattern, trope_cues, cues, starts, parsed):
                match.weight *= factor
                if pattern.id not in best or match.weight > best[pattern.id].weight:
                    best[pattern.id] = match
        matches = sorted(best.values(), key=lambda m: (-m.weight, m.pattern))
        cue_words = sorted({text[c.start : c.end].lower() for c in trope_cues})
        if matches:
            miss = 1.0
            for m in matches:
                miss *= 1.0 - m.weight
            score = min(MAX_SCORE, 1.0 - miss)
            start, end = matches[0].start, matches[0].end
        elif cand.sentences:
            score = CUE_SCORE
            start, end = cand.sentences[0]
        else:  # a passage-level candidate where nothing fired
            score, start, end = 0.0, cand.passage.start, cand.passage.end
        start, end = max(start, cand.passage.start), min(end, cand.passage.end)
        return TropeEvidence(cand.trope, cand.passage.index, round(score, 4), start, end, matches, cue_words)

    def _fire(
        self,
        text: str,
        cand: _Candidate,
        pattern: Pattern,
        trope_cues: list[CueHit],
        cues: list[CueHit],
        starts: list[int],
        parsed: dict[tuple[int, int], Any],
    ) -> Iterable[RuleMatch]:
        if pattern.kind == "cooccur":
            only = self._cue_sets[(cand.trope, pattern.id)]
            counted = [c for c in trope_cues if not only or c.cue in only]
            if counted and len({c.cue for c in counted}) >= pattern.min_cues:
                yield RuleMatch(pattern.id, pattern.weight, counted[0].start, counted[-1].end)
            return
        for s, e in cand.sentences:
            doc = parsed.get((s, e))
            if doc is None:
                continue
            sent_cues = cues_between(cues, starts, s, e)
            if pattern.kind == "regex":
                yield from self._fire_regex(text, s, e, doc, pattern, cand.trope, sent_cues)
            else:
                yield from self._fire_dependency(s, doc, pattern, sent_cues)

    def _fire_regex(
        self, text: str, s: int, e: int, doc: Any, pattern: Pattern, trope: str, sent_cues: list[CueHit]
    ) -> Iterable[RuleMatch]:
        for m in self._regex[(trope, pattern.id)].finditer(text, s, e):
            anchor = _anchor(doc, m.start() - s, m.end() - s)
            if anchor is None:
                continue
            if pattern.negatable and _negated(anchor):
                continue
            weight, subject = pattern.weight, None
            if pattern.subject == "ai":
                verdict, subject = self._ai_subject(anchor, s, sent_cues)
                if verdict is False:
                    continue
                if verdict is None:
                    weight *= NO_SUBJECT_FACTOR
            yield RuleMatch(pattern.id, weight, m.start(), m.end(), subject)

    def _fire_dependency(self, s: int, doc: Any, pattern: Pattern, sent_cues: list[CueHit]) -> Iterable[RuleMatch]:
        verbs = {v.lower() for v in pattern.verbs}
        objects = {o.lower() for o in pattern.objects}
        for tok in doc:
            if tok.pos_ not in ("VERB", "AUX") or tok.lemma_.lower() not in verbs:
                continue
            if pattern.negatable and _negated(tok):
                continue
            obj_tok = None
            if objects:
                obj_tok = next(
                    (d for d in tok.subtree if d.i != tok.i and (d.lemma_.lower() in objects or d.lower_ in objects)),
                    None,
                )
                if obj_tok is None:
                    continue
            weight, subject, subj_tok = pattern.weight, None, None
            if pattern.subject == "ai":
                verdict, subject = self._ai_subject(tok, s, sent_cues)
                if verdict is False:
                    continue
                if verdict is None:
                    weight *= NO_SUBJECT_FACTOR
                subj_tok = _subject_of(tok)[0]
            toks = [t for t in (tok, obj_tok, subj_tok) if t is not None]
            start = min(t.idx for t in toks)
            end = max(t.idx + len(t.text) for t in toks)
            yield RuleMatch(pattern.id, weight, s + start, s + end, subject)

    def _ai_subject(self, anchor: Any, s: int, sent_cues: list[CueHit]) -> tuple[bool | None, str | None]:
        """Whether the acting subject of ``anchor``'s clause is AI-like: True, False, or None (no subject)."""
        subj, passive = _subject_of(anchor)
        if subj is None:
            return (False, None) if passive else (None, None)
        if subj.lower_ in _RELATIVE and subj.head.dep_ == "relcl":
            subj = subj.head.head
        # The subject's head and what precedes it ("the ship's computer"), not its relative clauses or
        # post-modifiers ("an attack that tricked an email assistant" is not an AI subject).
        lo, hi = s + subj.left_edge.idx, s + subj.idx + len(subj.text)
        words = {t.lower_ for t in subj.subtree if t.i <= subj.i} | {subj.lemma_.lower()}
        if (
            any(ENTITY in c.classes and c.start < hi and c.end > lo for c in sent_cues)
            or subj.lower_ in _PRONOUNS
            or subj.pos_ == "PROPN"
            or words & self._agents
        ):
            return True, subj.text
        return False, subj.text


def _genre_factor(pattern: Pattern, p_fiction: float) -> float:
    if pattern.genre == "fiction":
        return min(1.0, 2.0 * p_fiction)
    if pattern.genre == "nonfiction":
        return min(1.0, 2.0 * (1.0 - p_fiction))
    return 1.0


def _anchor(doc: Any, start: int, end: int) -> Any:
    """The token a regex match hangs on: its first verb, else its first auxiliary, else its first token."""
    toks = [t for t in doc if t.idx < end and t.idx + len(t.text) > start]
    if not toks:
        return None
    for pos in ("VERB", "AUX"):
        for t in toks:
            if t.pos_ == pos:
                return t
    return toks[0]


def _negated(tok: Any) -> bool:
    """'did not resist', 'never tried to escape', 'made no attempt to escape' (up to three governing words)."""
    cur = tok
    for _ in range(4):
        if any(
            c.dep_ == "neg" or (c.lower_ in _NEG_WORDS and c.dep_ in ("det", "advmod", "prep")) for c in cur.children
        ):
            return True
        if cur.dep_ in ("pcomp", "pobj") and cur.head.lower_ == "without":
            return True
        if cur.dep_ not in _GOVERNED or cur.head.i == cur.i:
            return False
        cur = cur.head
    return False


# spaCy creates a new Token object on every access: compare tokens by index (``.i``), never with ``is``.


def _subject_of(tok: Any) -> tuple[Any, bool]:
    """The acting subject of ``tok``'s clause and whether the clause is passive (climbing control verbs and
    conjunctions). In a passive clause the actor is the ``by``-agent, or unknown."""
    cur = tok
    if cur.pos_ not in ("VERB", "AUX"):
        while cur.head.i != cur.i and cur.pos_ not in ("VERB", "AUX"):
            cur = cur.head
    for _ in range(6):
        passive = any(c.dep_ in ("nsubjpass", "auxpass") for c in cur.children)
        if passive:
            agent = next((c for c in cur.children if c.dep_ == "agent"), None)
            pobj = next((c for c in agent.children if c.dep_ == "pobj"), None) if agent is not None else None
            return pobj, True
        subj = next((c for c in cur.children if c.dep_ in ("nsubj", "csubj", "expl")), None)
        if subj is not None:
            return subj, False
        if cur.dep_ not in _SUBJECT_CLIMB or cur.head.i == cur.i:
            return None, False
        cur = cur.head
    return None, False
