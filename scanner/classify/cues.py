"""The cheap first stage: find AI-entity cues and per-trope action cues in one pass.

``gate`` answers "does this document mention an AI at all?" with hyperscan (a few hundred MB/s per core) where the
``hyperscan`` package is installed, else with the Aho-Corasick automaton. ``find`` then locates every cue of a
gated document with pyahocorasick over the lowercased text, checking word boundaries (a trailing ``*`` in a cue
lifts the right-hand boundary: a prefix match) and the exact case of ``case_sensitive`` entity cues.
"""

from __future__ import annotations

import contextlib
import re
from bisect import bisect_left
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
        self._automaton: Any = ahocorasick.Automaton()
        # One automaton key per lowercase string; under it, one variant per (prefix?, exact case) with the union
        # of its classes, so that "warn" (exact) in one trope and "warn*" (prefix) in another stay distinct.
        variants: dict[str, dict[tuple[bool, str | None], tuple[str, ...]]] = {}
        for entry in entries:
            key = entry.cue.rstrip("*")
            slot = variants.setdefault(key, {})
            old = slot.get((entry.prefix, entry.exact), ())
            slot[(entry.prefix, entry.exact)] = tuple(dict.fromkeys(old + entry.classes))
        merged: list[_Entry] = []
        for key, slot in variants.items():
            group = tuple(
                _Entry(key, classes, prefix, exact) for (prefix, exact), classes in sorted(slot.items(), key=str)
            )
            self._automaton.add_word(key, group)
            merged.extend(group)
        self._automaton.make_automaton()
        entity = [e for e in merged if ENTITY in e.classes]
        self._gate = _HyperscanGate.build(entity) if use_hyperscan else None

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
        return any(ENTITY in hit.classes for hit in self._iter(text, fold(text)))

    def find(self, text: str, folded: str | None = None) -> list[CueHit]:
        """Every cue occurrence in ``text``, sorted by position (``folded``: ``fold(text)`` if already made)."""
        return sorted(self._iter(text, folded if folded is not None else fold(text)), key=lambda h: (h.start, h.end))

    def _iter(self, text: str, low: str) -> Any:
        n = len(low)
        for last, group in self._automaton.iter(low):
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
