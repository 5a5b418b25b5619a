"""Passages: the unit every later stage labels. Offsets index the document text.

1. The text is cut into paragraphs at blank lines.
2. A paragraph longer than ``max_chars`` is split at line ends, packing whole lines greedily up to
   ``max_chars`` (web text keeps one paragraph per line); a single line longer than that is windowed at the
   last sentence end (else the last space) before ``max_chars``.
3. Fragments shorter than ``min_chars`` (menu items, headings, a line of dialogue) merge with the following
   pieces, and a short tail with the piece before it, as long as the result stays within ``max_chars``.

Passages never overlap, never start or end in white space, and cover every non-space character of the text.
The cost is linear in the text length, and most of it is spent in ``re`` (C), not Python.
"""

from __future__ import annotations

import re

from scanner.data import Passage

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_SENTENCE_END = re.compile(r"[.!?][\"')\]’”]*\s")


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _window(text: str, start: int, end: int, min_chars: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut one over-long line into pieces of at most ``max_chars``."""
    pieces: list[tuple[int, int]] = []
    while end - start > max_chars:
        limit = start + max_chars
        cut = -1
        for m in _SENTENCE_END.finditer(text, start + min_chars, limit):
            cut = m.end() - 1
        if cut < 0:
            space = text.rfind(" ", start + min_chars, limit)
            cut = space if space > start else limit
        piece = _trim(text, start, cut)
        if piece[1] > piece[0]:
            pieces.append(piece)
        start, _ = _trim(text, cut, end)
    start, end = _trim(text, start, end)
    if end > start:
        pieces.append((start, end))
    return pieces


def _pack_lines(
    text: str, start: int, end: int, min_chars: int, max_chars: int, pattern: re.Pattern[str]
) -> list[tuple[int, int]]:
    """Greedy packing of whole lines into pieces of at most ``max_chars``."""
    pieces: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        m = pattern.match(text, pos, end)
        if m is not None:
            piece = _trim(text, pos, m.end())
            nxt = m.end()
        else:
            line_end = text.find("\n", pos, end)
            line_end = end if line_end < 0 else line_end
            pieces.extend(_window(text, pos, line_end, min_chars, max_chars))
            piece, nxt = (0, 0), line_end
        if piece[1] > piece[0]:
            pieces.append(piece)
        pos = nxt
        while pos < end and text[pos].isspace():
            pos += 1
    return pieces


_PACKERS: dict[int, re.Pattern[str]] = {}


def segment(text: str, *, min_chars: int = 200, max_chars: int = 1000) -> list[Passage]:
    """Split ``text`` into passages (see the module documentation)."""
    packer = _PACKERS.get(max_chars)
    if packer is None:
        packer = _PACKERS[max_chars] = re.compile(rf"(?s).{{1,{max_chars}}}(?=\n|\Z)")
    units: list[tuple[int, int]] = []
    block_start = 0
    n = len(text)
    for sep in _BLANK_LINE.finditer(text):
        _add_block(text, block_start, sep.start(), units, min_chars, max_chars, packer)
        block_start = sep.end()
    _add_block(text, block_start, n, units, min_chars, max_chars, packer)
    return [Passage(i, s, e) for i, (s, e) in enumerate(_merge(units, min_chars, max_chars))]


def _add_block(
    text: str,
    start: int,
    end: int,
    units: list[tuple[int, int]],
    min_chars: int,
    max_chars: int,
    packer: re.Pattern[str],
) -> None:
    start, end = _trim(text, start, end)
    if end <= start:
        return
    if end - start <= max_chars:
        units.append((start, end))
    else:
        units.extend(_pack_lines(text, start, end, min_chars, max_chars, packer))


def _merge(units: list[tuple[int, int]], min_chars: int, max_chars: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in units:
        if out:
            prev_start, prev_end = out[-1]
            if (prev_end - prev_start < min_chars or end - start < min_chars) and end - prev_start <= max_chars:
                out[-1] = (prev_start, end)
                continue
        out.append((start, end))
    return out
