"""Passages: the unit every later stage labels. Offsets index the document text.

1. The text is cut into paragraphs at blank lines.
2. Consecutive paragraphs are packed greedily into passages of at most ``max_chars`` characters, so headings,
   menu items and short lines of dialogue travel with their neighbours and a passage never splits a paragraph
   that fits in one.
3. A paragraph longer than ``max_chars`` is packed the same way by its lines (web text keeps one paragraph
   per line); a single line longer than that is windowed at the last sentence end (else the last space)
   between ``min_chars`` and ``max_chars`` from the window's start.
4. A piece shorter than ``min_chars`` left over by the steps above joins its neighbour when both fit in
   ``max_chars``.

Passages never overlap, start and end at non-space characters, and cover every non-space character of the
text. ``max_chars`` defaults to 1,000 characters, which fits the 256-token window of MiniLM-class encoders
for English prose.

Speed matters here: this runs on every document of a crawl. Separators are found by ``re`` (C) and each
passage is one ``bisect`` over the separator positions, so the Python work is per passage, not per line.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from scanner.data import Passage

_PARAGRAPH_SEP = re.compile(r"\n[^\S\n]*\n\s*")  # a blank line and the white space around it
_LINE_SEP = re.compile(r"\n\s*")
_SENTENCE_END = re.compile(r"[.!?][\"')\]’”]*\s")


def segment(text: str, *, min_chars: int = 200, max_chars: int = 1000) -> list[Passage]:
    """Split ``text`` into passages (see the module documentation)."""
    lo = len(text) - len(text.lstrip())
    hi = len(text.rstrip())
    spans: list[tuple[int, int]] = []
    if hi > lo:
        _pack(text, lo, hi, _PARAGRAPH_SEP, min_chars, max_chars, spans)
    merged: list[tuple[int, int]] = []
    for start, end in spans:  # a fragment left by windowing joins a neighbour when the two fit together
        if merged:
            prev_start, prev_end = merged[-1]
            if (prev_end - prev_start < min_chars or end - start < min_chars) and end - prev_start <= max_chars:
                merged[-1] = (prev_start, end)
                continue
        merged.append((start, end))
    return [Passage(i, s, e) for i, (s, e) in enumerate(merged)]


def _units(text: str, lo: int, hi: int, sep: re.Pattern[str]) -> tuple[list[int], list[int]]:
    """Starts and ends of the trimmed pieces of ``text[lo:hi]`` between matches of ``sep``."""
    cuts = [m.span() for m in sep.finditer(text, lo, hi)]
    starts = [lo, *(e for _, e in cuts)]
    ends = [s for s, _ in cuts]
    for i, end in enumerate(ends):
        if text[end - 1].isspace():  # white space before the separator (a CR, trailing blanks)
            while text[end - 1].isspace():
                end -= 1
            ends[i] = end
    ends.append(hi)
    return starts, ends


def _pack(
    text: str, lo: int, hi: int, sep: re.Pattern[str], min_chars: int, max_chars: int, out: list[tuple[int, int]]
) -> None:
    """Greedy packing of the pieces of ``text[lo:hi]`` (split at ``sep``) into spans of at most ``max_chars``."""
    starts, ends = _units(text, lo, hi, sep)
    n = len(starts)
    i = 0
    while i < n:
        start = starts[i]
        last = bisect_right(ends, start + max_chars, i) - 1  # the last piece that still fits
        if last >= i:
            out.append((start, ends[last]))
            i = last + 1
        elif sep is _PARAGRAPH_SEP:  # one paragraph longer than max_chars: pack its lines
            _pack(text, start, ends[i], _LINE_SEP, min_chars, max_chars, out)
            i += 1
        else:  # one line longer than max_chars
            _window(text, start, ends[i], min_chars, max_chars, out)
            i += 1


def _window(text: str, start: int, end: int, min_chars: int, max_chars: int, out: list[tuple[int, int]]) -> None:
    """Cut one over-long line into pieces of at most ``max_chars``, at sentence ends where possible."""
    while end - start > max_chars:
        limit = start + max_chars
        cut = -1
        for m in _SENTENCE_END.finditer(text, start + min_chars, limit):
            cut = m.end() - 1
        if cut < 0:
            space = text.rfind(" ", start + min_chars, limit)
            cut = space if space > start else limit
        piece_end = cut
        while piece_end > start and text[piece_end - 1].isspace():
            piece_end -= 1
        if piece_end > start:
            out.append((start, piece_end))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        out.append((start, end))
