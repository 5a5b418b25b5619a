"""The rule stage: candidate sentences from cues, then taxonomy patterns checked on a spaCy parse.

For each passage that holds an AI-entity cue, a sentence is a *candidate* for a trope when it holds one of the
trope's lexicon cues and an AI-entity cue lies in it or in the two sentences before it (pronouns refer back).
Patterns (a sentence is parsed only when a pattern's cheap surface test passes in it, once per document):

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
from typing import Any, NamedTuple

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
        dependency = [(t.id, p) for t in taxonomy.tropes for p in t.patterns if p.kind == "dependency"]
        self._verb_forms = {(tid, p.id): _Forms(p.verbs) for tid, p in dependency}
        self._object_forms = {(tid, p.id): _Forms(p.objects) if p.objects else None for tid, p in dependency}
        self._passage_level = {t.id for t in taxonomy.tropes if any(p.kind == "cooccur" for p in t.patterns)}
        self._dependent = {t.id for t in taxonomy.tropes if any(p.with_tropes for p in t.patterns)}
        self._thresholds = {t.id: t.threshold for t in taxonomy.tropes}
        self._cue_sets = {
            (t.id, p.id): frozenset(c.rstrip("*") for c in p.cues) for t in taxonomy.tropes for p in t.patterns
        }

    def run(
        self, text: str, folded: str, passages: list[Passage], cues: list[CueHit], *, p_fiction: float
    ) -> list[TropeEvidence]:
        """Evidence for every (passage, trope) with a candidate sentence, in passage then taxonomy order.

        ``folded`` is :func:`scanner.classify.cues.fold` of the text (same length): regexes and surface tests run
        on it, so typographic apostrophes and line breaks inside a phrase do not hide a match; spaCy parses the
        original text."""
        starts = [c.start for c in cues]
        candidates = [
            c for p in passages for c in self._candidates(text, p, cues_between(cues, starts, p.start, p.end))
        ]
        parsed = _Parses(self.nlp, text, folded)
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
        parsed: _Parses,
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
            for match in self._fire(cand, pattern, trope_cues, cues, starts, parsed):
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
        cand: _Candidate,
        pattern: Pattern,
        trope_cues: list[CueHit],
        cues: list[CueHit],
        starts: list[int],
        parsed: _Parses,
    ) -> Iterable[RuleMatch]:
        if pattern.kind == "cooccur":
            only = self._cue_sets[(cand.trope, pattern.id)]
            counted = _disjoint([c for c in trope_cues if not only or c.cue in only])
            if counted and len({c.cue for c in counted}) >= pattern.min_cues:
                yield RuleMatch(pattern.id, pattern.weight, counted[0].start, counted[-1].end)
            return
        for s, e in cand.sentences:
            sentence = _Sentence(s, e, parsed, cand.trope, cues, starts)
            if pattern.kind == "regex":
                yield from self._fire_regex(sentence, pattern)
            else:
                yield from self._fire_dependency(sentence, pattern)

    def _fire_regex(self, sentence: _Sentence, pattern: Pattern) -> Iterable[RuleMatch]:
        s, e, parsed, trope, cues, starts = sentence
        needs_parse = pattern.negatable or pattern.subject == "ai"
        for m in self._regex[(trope, pattern.id)].finditer(parsed.folded, s, e):
            if not needs_parse:
                yield RuleMatch(pattern.id, pattern.weight, m.start(), m.end())
                continue
            ws, we = _window(parsed.folded, s, e, m.start(), m.end())
            doc = parsed.get(ws, we)
            anchor = _anchor(doc, m.start() - ws, m.end() - ws)
            if anchor is None:
                continue
            checked = self._check(pattern, anchor, ws, cues_between(cues, starts, ws, we))
            if checked is not None:
                weight, subject, _ = checked
                yield RuleMatch(pattern.id, weight, m.start(), m.end(), subject)

    def _fire_dependency(self, sentence: _Sentence, pattern: Pattern) -> Iterable[RuleMatch]:
        s, e, parsed, trope, cues, starts = sentence
        verbs, objects = self._verb_forms[(trope, pattern.id)], self._object_forms[(trope, pattern.id)]
        seen: set[tuple[int, int]] = set()
        for vm in verbs.search_iter(parsed.folded, s, e):
            ws, we = _window(parsed.folded, s, e, vm.start(), vm.end())
            if (ws, we) in seen:
                continue
            seen.add((ws, we))
            if objects is not None and not any(True for _ in objects.search_iter(parsed.folded, ws, we)):
                continue  # no object in sight: not worth a parse
            doc = parsed.get(ws, we)
            for tok in doc:
                if not _is_verb(tok) or not verbs.matches(tok.lower_):
                    continue
                obj_tok = None
                if objects is not None:
                    obj_tok = next((d for d in tok.subtree if d.i != tok.i and objects.matches(d.lower_)), None)
                    if obj_tok is None:
                        continue
                checked = self._check(pattern, tok, ws, cues_between(cues, starts, ws, we))
                if checked is None:
                    continue
                weight, subject, subj_tok = checked
                toks = [t for t in (tok, obj_tok, subj_tok) if t is not None]
                lo = min(t.idx for t in toks)
                hi = max(t.idx + len(t.text) for t in toks)
                yield RuleMatch(pattern.id, weight, ws + lo, ws + hi, subject)

    def _check(
        self, pattern: Pattern, anchor: Any, s: int, sent_cues: list[CueHit]
    ) -> tuple[float, str | None, Any] | None:
        """A match's verb ``anchor`` against the pattern's negation and subject requirements: None when the match
        does not fire, else its weight, the subject's text and the subject token (both None when not checked)."""
        if pattern.negatable and _negated(anchor):
            return None
        if pattern.subject != "ai":
            return pattern.weight, None, None
        verdict, subject, token = self._ai_subject(anchor, s, sent_cues)
        if verdict is False:
            return None
        return (pattern.weight * NO_SUBJECT_FACTOR if verdict is None else pattern.weight), subject, token

    def _ai_subject(self, anchor: Any, s: int, sent_cues: list[CueHit]) -> tuple[bool | None, str | None, Any]:
        """Whether the acting subject of ``anchor``'s clause is AI-like (True, False, or None: no subject), the
        text it was judged by, and the clause's subject token as the parse gives it."""
        subj, passive = _subject_of(anchor)
        token = subj
        if subj is None:
            return (False, None, None) if passive else (None, None, None)
        if subj.lower_ in _RELATIVE and subj.head.dep_ == "relcl":
            subj = subj.head.head
        # The subject's head and what precedes it ("the ship's computer"), not its relative clauses or
        # post-modifiers ("an attack that tricked an email assistant" is not an AI subject).
        lo, hi = s + subj.left_edge.idx, s + subj.idx + len(subj.text)
        words = {t.lower_ for t in subj.subtree if t.i <= subj.i}
        if (
            any(ENTITY in c.classes and c.start < hi and c.end > lo for c in sent_cues)
            or subj.lower_ in _PRONOUNS
            or subj.tag_ in ("NNP", "NNPS")
            or words & self._agents
        ):
            return True, subj.text, token
        return False, subj.text, token


class _Sentence(NamedTuple):
    """A candidate sentence ``[s, e)`` of a document, for one trope, with the document's parses and cues."""

    s: int
    e: int
    parsed: _Parses
    trope: str
    cues: list[CueHit]
    starts: list[int]


class _Parses:
    """spaCy parses of one document's sentences, made on first request."""

    def __init__(self, nlp: LazyPipeline, text: str, folded: str) -> None:
        self._nlp = nlp
        self._text = text
        self.folded = folded
        self._docs: dict[tuple[int, int], Any] = {}

    def get(self, s: int, e: int) -> Any:
        doc = self._docs.get((s, e))
        if doc is None:
            doc = self._docs[(s, e)] = self._nlp.parse(self._text[s:e])
        return doc


# Past forms that do not start with the lemma's stem, for the surface test of dependency patterns.
_IRREGULAR: dict[str, tuple[str, ...]] = {
    "fight": ("fought",),
    "shoot": ("shot",),
    "slay": ("slew", "slain"),
    "make": ("made",),
    "take": ("took", "taken"),
    "hide": ("hid", "hidden"),
    "seek": ("sought",),
    "overthrow": ("overthrew", "overthrown"),
    "hold": ("held",),
    "send": ("sent",),
    "lie": ("lying", "lay", "lain"),
    "leave": ("left",),
    "give": ("gave", "given"),
    "bring": ("brought",),
    "tear": ("tore", "torn"),
    "beat": ("beaten",),
    "break": ("broke", "broken"),
    "buy": ("bought",),
    "keep": ("kept",),
    "rise": ("rose", "risen"),
    "run": ("ran",),
    "steal": ("stole", "stolen"),
    "strike": ("struck",),
    "tell": ("told",),
    "throw": ("threw", "thrown"),
}


class _Forms:
    """Surface forms of a list of lemmas: the stem (the lemma less a final 'e' or 'y' when longer than three
    letters) as a word prefix, plus the irregular forms above. Spotting a verb this way decides what to parse
    (``search_iter``) and which parsed tokens count (``matches``), without running spaCy's lemmatizer."""

    def __init__(self, lemmas: list[str]) -> None:
        forms: set[str] = set()
        for lemma in lemmas:
            v = lemma.lower()
            forms.add(re.escape(v[:-1] if len(v) > 3 and v[-1] in "ey" else v) + r"\w*")
            forms.update(re.escape(f) for f in _IRREGULAR.get(v, ()))
        body = "|".join(sorted(forms))
        self._search = re.compile(rf"\b(?:{body})\b", re.IGNORECASE)
        self._full = re.compile(rf"(?:{body})")

    def search_iter(self, text: str, s: int, e: int) -> Iterable[re.Match[str]]:
        return self._search.finditer(text, s, e)

    def matches(self, word: str) -> bool:
        return self._full.fullmatch(word) is not None


def _disjoint(cues: list[CueHit]) -> list[CueHit]:
    """Cues that do not overlap, the longest first where they do ("safety researchers" is one cue, not both
    "safety research*" and "safety researcher*")."""
    kept: list[CueHit] = []
    for cue in sorted(cues, key=lambda c: (c.start, -(c.end - c.start))):
        if kept and cue.start < kept[-1].end:
            continue
        kept.append(cue)
    return kept


def _genre_factor(pattern: Pattern, p_fiction: float) -> float:
    if pattern.genre == "fiction":
        return min(1.0, 2.0 * p_fiction)
    if pattern.genre == "nonfiction":
        return min(1.0, 2.0 * (1.0 - p_fiction))
    return 1.0


def _is_verb(tok: Any) -> bool:
    # Penn tags from the tagger (the attribute ruler and lemmatizer are not run: see nlp.py)
    return bool(tok.tag_.startswith("VB") or tok.tag_ == "MD")


def _anchor(doc: Any, start: int, end: int) -> Any:
    """The token a regex match hangs on: its first main verb, else its first auxiliary, else its first token."""
    toks = [t for t in doc if t.idx < end and t.idx + len(t.text) > start]
    if not toks:
        return None
    for t in toks:
        if _is_verb(t) and t.dep_ not in ("aux", "auxpass"):
            return t
    for t in toks:
        if _is_verb(t):
            return t
    return toks[0]


MAX_PARSE_CHARS = 400


def _window(text: str, s: int, e: int, ms: int, me: int) -> tuple[int, int]:
    """The sentence ``[s, e)``, or, when it is longer than :data:`MAX_PARSE_CHARS` (web text often has no
    punctuation), a window of about that size around the match ``[ms, me)``, cut at spaces: parsing costs grow
    with length, and a rule's verb, subject and negation lie near its match."""
    if e - s <= MAX_PARSE_CHARS:
        return s, e
    half = max(0, (MAX_PARSE_CHARS - (me - ms)) // 2)
    lo, hi = max(s, ms - half), min(e, me + half)
    if lo > s:
        cut = text.find(" ", lo, ms)
        lo = cut + 1 if cut != -1 else lo
    if hi < e:
        cut = text.rfind(" ", me, hi)
        hi = cut if cut != -1 else hi
    return lo, hi


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
    if not _is_verb(cur):
        while cur.head.i != cur.i and not _is_verb(cur):
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
