"""The cheap first stage: find AI-entity cues and per-trope action cues in one pass.

``gate`` answers "does this document mention an AI at all?" with hyperscan (a few hundred MB/s per core) where the
``hyperscan`` package is installed, else with an Aho-Corasick automaton. ``find_entities`` and ``find_actions``
then locate the cues of a gated document in its folded text (lowercase, quotes and line breaks folded, same
length), at word boundaries (a trailing ``*`` in a cue lifts the right-hand one: a prefix match), checking the
exact case of ``case_sensitive`` entity cues against the original: with hyperscan where it is installed (its byte
offsets turned into character offsets), else with pyahocorasick. Both give the same hits (a test checks).
"""

from __future__ import annotations

import contextlib
import re
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ahocorasick

from scanner.taxonomy.schema import Taxonomy

ENTITY = "__entity__"


@dataclass(frozen=True, slots=True)
class CueHit:
    """One cue occurrence: ``text[start:end]``, the cue as written in the taxonomy, and its classes (the
    :data:`ENTITY` class and/or trope ids)."""

    start: int
    end: int
    cue: str
    classes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Entry:
    cue: str
    classes: tuple[str, ...]
    prefix: bool
    exact: str | None  # the case-sensitive spelling to verify, if any


_FOLDS = (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"'), ("\u2013", "-"), ("\u2014", "-"))
_SPACES = ("\n", "\r", "\t", "\f", "\v")


def fold(text: str) -> str:
    """Lowercase, typographic quotes and dashes folded to ASCII, line breaks and tabs to spaces (so that a phrase
    broken across hard-wrapped lines still matches); always the same length as ``text`` so offsets carry over.
    (``str.replace`` per character present: ``str.translate`` with a dict is far slower on long texts.)"""
    low = text.lower()
    if len(low) != len(text):  # e.g. 'İ'.lower() is two code points: lower char by char instead
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    if not low.isascii():
        for old, new in _FOLDS:
            if old in low:
                low = low.replace(old, new)
    for old in _SPACES:
        if old in low:
            low = low.replace(old, " ")
    return low


def _is_word(ch: str) -> bool:
    # ASCII word characters only, as hyperscan's \b: "AI" next to CJK text or an accented letter still counts.
    return ch.isascii() and (ch.isalnum() or ch == "_")


class CueMatcher:
    """Entity and action cues of one taxonomy, compiled once (not at import: see :meth:`from_taxonomy`)."""

    def __init__(self, entries: list[_Entry], *, use_hyperscan: bool = True) -> None:
        # Two automata: AI-entity cues (searched in the whole text) and action cues (searched only where asked,
        # normally the passages that hold an entity cue: most of a web page never needs them).
        entity = [_Entry(e.cue, (ENTITY,), e.prefix, e.exact) for e in entries if ENTITY in e.classes]
        action = [
            _Entry(e.cue, tuple(c for c in e.classes if c != ENTITY), e.prefix, e.exact)
            for e in entries
            if any(c != ENTITY for c in e.classes)
        ]
        self._entities, merged_entities = _automaton(entity)
        self._actions, merged_actions = _automaton(action)
        self._gate = _HyperscanGate.build(merged_entities) if use_hyperscan else None
        self._hs_entities = _HyperscanFinder.build(merged_entities) if use_hyperscan else None
        self._hs_actions = _HyperscanFinder.build(merged_actions) if use_hyperscan else None

    @classmethod
    def from_taxonomy(cls, taxonomy: Taxonomy, *, use_hyperscan: bool = True) -> CueMatcher:
        entries: list[_Entry] = []
        for cue in taxonomy.entities.cues:
            entries.append(_Entry(cue, (ENTITY,), cue.endswith("*"), None))
        for cue in taxonomy.entities.case_sensitive:
            entries.append(_Entry(fold(cue.rstrip("*")), (ENTITY,), cue.endswith("*"), cue.rstrip("*")))
        for trope in taxonomy.tropes:
            for cue in trope.lexicon:
                entries.append(_Entry(cue, (trope.id,), cue.endswith("*"), None))
        return cls(entries, use_hyperscan=use_hyperscan)

    @property
    def engine(self) -> str:
        return "hyperscan" if self._gate is not None else "aho-corasick"

    def gate(self, text: str) -> bool:
        """True when the text holds at least one AI-entity cue."""
        if self._gate is not None:
            return self._gate.any_match(text)
        return next(self._iter(self._entities, text, fold(text), 0, len(text)), None) is not None

    def find_entities(self, text: str, folded: str | None = None) -> list[CueHit]:
        """The AI-entity cues of ``text``, sorted by position (``folded``: ``fold(text)`` if already made)."""
        low = folded if folded is not None else fold(text)
        if self._hs_entities is not None:
            return sorted(self._hs_entities.find(text, low, 0, len(low)), key=_position)
        return sorted(self._iter(self._entities, text, low, 0, len(low)), key=_position)

    def find_actions(self, text: str, folded: str, regions: list[tuple[int, int]]) -> list[CueHit]:
        """The action cues of ``text`` that start inside one of ``regions`` (sorted, non-overlapping)."""
        hits: list[CueHit] = []
        for start, end in regions:
            if self._hs_actions is not None:
                hits.extend(self._hs_actions.find(text, folded, start, end))
            else:
                hits.extend(self._iter(self._actions, text, folded, start, end))
        return sorted(hits, key=_position)

    def find(self, text: str, folded: str | None = None) -> list[CueHit]:
        """Every cue occurrence in ``text`` (entity and action cues), sorted by position."""
        low = folded if folded is not None else fold(text)
        both = self.find_entities(text, low) + self.find_actions(text, low, [(0, len(low))])
        return sorted(both, key=_position)

    @staticmethod
    def _iter(automaton: Any, text: str, low: str, lo: int, hi: int) -> Iterator[CueHit]:
        n = len(low)
        if not len(automaton):
            return
        for last, group in automaton.iter(low, lo, hi):
            end = last + 1
            start = end - len(group[0].cue)
            if start > 0 and _is_word(low[start - 1]) and _is_word(low[start]):
                continue
            inside_word = end < n and _is_word(low[end]) and _is_word(low[end - 1])
            for entry in group:
                if inside_word and not entry.prefix:
                    continue
                stop = end
                if entry.prefix:
                    while stop < n and _is_word(low[stop]):
                        stop += 1
                classes = entry.classes
                if entry.exact is not None and not text.startswith(entry.exact, start):
                    classes = tuple(c for c in classes if c != ENTITY)  # wrong case: not an AI cue
                if classes:
                    yield CueHit(start, stop, entry.cue, classes)


def _position(hit: CueHit) -> tuple[int, int]:
    return hit.start, hit.end


def _automaton(entries: list[_Entry]) -> tuple[Any, list[_Entry]]:
    """An Aho-Corasick automaton with one key per lowercase string; under it, one variant per (prefix?, exact case)
    with the union of its classes, so that "warn" (exact) in one trope and "warn*" (prefix) in another stay apart."""
    automaton: Any = ahocorasick.Automaton()
    variants: dict[str, dict[tuple[bool, str | None], tuple[str, ...]]] = {}
    for entry in entries:
        key = entry.cue.rstrip("*")
        slot = variants.setdefault(key, {})
        old = slot.get((entry.prefix, entry.exact), ())
        slot[(entry.prefix, entry.exact)] = tuple(dict.fromkeys(old + entry.classes))
    merged: list[_Entry] = []
    for key, slot in variants.items():
        ordered = sorted(slot.items(), key=str)
        group = tuple(_Entry(key, classes, prefix, exact) for (prefix, exact), classes in ordered)
        automaton.add_word(key, group)
        merged.extend(group)
    if merged:
        automaton.make_automaton()
    return automaton, merged


class _HyperscanGate:
    """A hyperscan block-mode database of the entity cues that stops at the first match."""

    def __init__(self, db: Any, module: Any) -> None:
        self._db = db
        self._hs = module
        self._found = False

    @classmethod
    def build(cls, entries: list[_Entry]) -> _HyperscanGate | None:
        try:
            import hyperscan
        except ImportError:
            return None
        expressions: list[bytes] = []
        flags: list[int] = []
        for entry in entries:
            word = re.escape(entry.exact if entry.exact is not None else entry.cue).encode("utf-8")
            left = rb"\b" if _is_word(entry.cue[0]) else b""
            right = rb"\b" if _is_word(entry.cue[-1]) and not entry.prefix else b""
            expressions.append(left + word + right)
            flag = hyperscan.HS_FLAG_SINGLEMATCH
            if entry.exact is None:
                flag |= hyperscan.HS_FLAG_CASELESS
            flags.append(flag)
        if not expressions:
            return None
        db = hyperscan.Database()
        db.compile(expressions=expressions, ids=list(range(len(expressions))), elements=len(expressions), flags=flags)
        return cls(db, hyperscan)

    def _on_match(self, *_: Any) -> bool:
        self._found = True
        return True  # stop scanning

    def any_match(self, text: str) -> bool:
        self._found = False
        with contextlib.suppress(self._hs.ScanTerminated):  # raised when _on_match stops the scan
            self._db.scan(text.encode("utf-8", "surrogatepass"), match_event_handler=self._on_match)
        return self._found


def cues_between(cues: list[CueHit], starts: list[int], start: int, end: int) -> list[CueHit]:
    """The cues that lie inside ``[start, end)`` (``starts`` is the sorted list of cue starts)."""
    lo = bisect_left(starts, start)
    hi = bisect_left(starts, end, lo)
    return [c for c in cues[lo:hi] if c.end <= end]


_COMPILED: dict[tuple[bytes, ...], Any] = {}  # hyperscan databases are read-only once compiled


class _HyperscanFinder:
    """Every cue position, by hyperscan, in ASCII text (where byte offsets are character offsets). Word boundaries
    are checked inside hyperscan, so Python only sees real matches: Aho-Corasick reports every substring
    ("ai" in "said", "again", "rain") and leaves the boundary test to a Python loop."""

    def __init__(self, db: Any, entries: list[_Entry]) -> None:
        self._db = db
        self._entries = entries

    @classmethod
    def build(cls, entries: list[_Entry]) -> _HyperscanFinder | None:
        try:
            import hyperscan
        except ImportError:
            return None
        if not entries:
            return None
        expressions = []
        for entry in entries:
            left = rb"\b" if _is_word(entry.cue[0]) else b""
            right = rb"\b" if _is_word(entry.cue[-1]) and not entry.prefix else b""
            expressions.append(left + re.escape(entry.cue).encode("utf-8") + right)
        key = tuple(expressions)
        db = _COMPILED.get(key)
        if db is None:  # compiling ~700 start-of-match patterns takes a second or two: once per process
            db = hyperscan.Database()
            db.compile(
                expressions=expressions,
                ids=list(range(len(expressions))),
                elements=len(expressions),
                flags=[hyperscan.HS_FLAG_SOM_LEFTMOST] * len(expressions),  # folded text is lowercase already
            )
            _COMPILED[key] = db
        return cls(db, entries)

    def find(self, text: str, folded: str, lo: int, hi: int) -> list[CueHit]:
        """Cues in ``folded[lo:hi]``, in ``text`` offsets."""
        found: list[tuple[int, int, int]] = []

        def on_match(pid: int, start: int, end: int, _flags: int, _ctx: object) -> None:
            found.append((pid, start, end))

        data = folded[lo:hi].encode("utf-8", "surrogatepass")
        self._db.scan(data, match_event_handler=on_match)
        if len(data) != hi - lo:  # not ASCII: turn byte offsets into character offsets
            found = _char_offsets(data, found)
        n = len(folded)
        hits = []
        for pid, start, end in found:
            entry = self._entries[pid]
            start, end = start + lo, end + lo
            if start == lo and start > 0 and _is_word(folded[start - 1]) and _is_word(folded[start]):
                continue  # the region began inside a word
            if entry.prefix:
                while end < n and _is_word(folded[end]):
                    end += 1
            classes = entry.classes
            if entry.exact is not None and not text.startswith(entry.exact, start):
                classes = tuple(c for c in classes if c != ENTITY)
            if classes:
                hits.append(CueHit(start, end, entry.cue, classes))
        return hits


def _char_offsets(data: bytes, found: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Byte offsets of matches in UTF-8 ``data`` as character offsets. A cue starts and ends on character
    boundaries, so decoding the bytes between consecutive offsets (in order) never splits a character."""
    points = sorted({off for _, start, end in found for off in (start, end)})
    chars: dict[int, int] = {}
    pos = prev = 0
    for off in points:
        pos += len(data[prev:off].decode("utf-8", "surrogatepass"))
        chars[off] = pos
        prev = off
    return [(pid, chars[start], chars[end]) for pid, start, end in found]
