"""A cheap sentence splitter for candidate selection (spaCy only ever sees the sentences it picks).

Boundaries: ``.``, ``!`` or ``?`` (with any closing quotes/brackets) followed by whitespace, and blank lines.
Single newlines are not boundaries: books and many web texts are hard-wrapped. An abbreviation ("Dr. Chandra")
splits a sentence in two; candidate selection looks two sentences back for an AI cue, which absorbs this.
"""

from __future__ import annotations

import re

_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*\s+|\n[ \t\r\f\v]*\n\s*")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans ``(s, e)`` of ``text[start:end]`` in ``text`` offsets, whitespace trimmed, none empty."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    pos = start
    for m in _BOUNDARY.finditer(text, start, end):
        _append(text, spans, pos, m.end() if m.group(0)[0] in ".!?" else m.start())
        pos = m.end()
    _append(text, spans, pos, end)
    return spans


def _append(text: str, spans: list[tuple[int, int]], s: int, e: int) -> None:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    if e > s:
        spans.append((s, e))
