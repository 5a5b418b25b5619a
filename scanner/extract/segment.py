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

Speed matters here: this runs on every document of a crawl. Each passage costs a couple of ``str.rfind``
calls (C) from its window's end, so the Python work is per passage, never per line or per paragraph.
"""

from __future__ import annotations

import re

from scanner.data import Passage

# A blank line holding spaces or tabs: rare, so such texts take a slower, exact path.
_SPACED_BLANK_LINE = re.compile(r"\n[^\S\n]+\n")
_SENTENCE_END = re.compile(r"[.!?][\"')\]’”]*\s")


def segment(text: str, *, min_chars: int = 200, max_chars: int = 1000) -> list[Passage]:
    """Split ``text`` into passages (see the module documentation)."""
    # Cuts are searched in a copy whose blank lines are all "\n\n" (same length, only white space moved), so
    # that every offset, and every non-space character, is where it is in ``text``.
    find = _SPACED_BLANK_LINE.sub(_tight_blank_line, text) if _SPACED_BLANK_LINE.search(text) else text
    spans: list[tuple[int, int]] = []
    pos = len(text) - len(text.lstrip())
    hi = len(text.rstrip())
    while pos < hi:
        limit = pos + max_chars
        if hi <= limit:
            spans.append((pos, hi))
            break
        cut = find.rfind("\n\n", pos + 1, limit + 2)  # the last paragraph break that fits
        if cut < 0:
            cut = find.rfind("\n", pos + 1, limit + 1)  # else the last line break
        if cut < 0:  # one line longer than max_chars
            line_end = find.find("\n", pos, hi)
            cut = hi if line_end < 0 else line_end
            end = cut
            while text[end - 1].isspace():
                end -= 1
            _window(text, pos, end, min_chars, max_chars, spans)
        else:
            end = cut
            while text[end - 1].isspace():
                end -= 1
            spans.append((pos, end))
        pos = cut
        while pos < hi and text[pos].isspace():
            pos += 1
    merged: list[tuple[int, int]] = []
    for start, end in spans:  # a fragment left by windowing joins a neighbour when the two fit together
        if merged:
            prev_start, prev_end = merged[-1]
            if (prev_end - prev_start < min_chars or end - start < min_chars) and end - prev_start <= max_chars:
                merged[-1] = (prev_start, end)
                continue
        merged.append((start, end))
    return [Passage(i, s, e) for i, (s, e) in enumerate(merged)]


def _tight_blank_line(m: re.Match[str]) -> str:
    return "\n\n" + " " * (m.end() - m.start() - 2)


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
