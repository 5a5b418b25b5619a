"""Passage segmentation: the invariants every later stage relies on, by example and by property."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.config import SegmentConfig
from scanner.data import Passage
from scanner.extract.segment import segment


def check_invariants(text: str, passages: list[Passage], min_chars: int, max_chars: int) -> None:
    """Everything segmentation promises (see scanner/extract/segment.py)."""
    assert [p.index for p in passages] == list(range(len(passages)))
    covered = bytearray(len(text))
    previous_end = 0
    for p in passages:
        assert 0 <= p.start < p.end <= len(text), p
        assert p.start >= previous_end, "passages overlap or are out of order"
        previous_end = p.end
        assert not text[p.start].isspace(), f"passage {p.index} starts in white space"
        assert not text[p.end - 1].isspace(), f"passage {p.index} ends in white space"
        assert p.end - p.start <= max_chars, f"passage {p.index} is {p.end - p.start} > {max_chars} chars"
        covered[p.start : p.end] = b"\x01" * (p.end - p.start)
    missing = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert not missing, f"non-space characters outside every passage at {missing[:10]}"
    # a short passage exists only where merging it with its neighbour would exceed max_chars
    for a, b in itertools.pairwise(passages):
        if a.end - a.start < min_chars or b.end - b.start < min_chars:
            assert b.end - a.start > max_chars, f"passages {a.index} and {b.index} should have merged"


def seg(text: str, min_chars: int = 200, max_chars: int = 1000) -> list[Passage]:
    passages = segment(text, min_chars=min_chars, max_chars=max_chars)
    check_invariants(text, passages, min_chars, max_chars)
    return passages


def spans(text: str, passages: list[Passage]) -> list[str]:
    return [text[p.start : p.end] for p in passages]


# ----------------------------------------------------------------------------------------------------------
# examples
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "\n\n\n", " \t\r\n \n\f"])
def test_blank_text_has_no_passages(text):
    assert seg(text) == []


def test_single_short_paragraph_is_one_trimmed_passage():
    text = "  \n Hello, robot.  \n\n"
    [p] = seg(text)
    assert text[p.start : p.end] == "Hello, robot."


def test_paragraphs_split_at_blank_lines():
    a, b, c = ("A" * 300, "B" * 300, "C" * 300)
    text = f"{a}\n\n{b}\n \t\n{c}\n"
    assert spans(text, seg(text, min_chars=100, max_chars=400)) == [a, b, c]


def test_tiny_fragments_merge():
    lines = ["Menu", "Home", "About", "Contact", ("A real paragraph " * 15).strip()]
    text = "\n\n".join(lines)
    passages = seg(text, min_chars=200, max_chars=1000)
    assert len(passages) == 1
    assert spans(text, passages) == [text]


def test_short_tail_merges_with_previous():
    body = "x" * 300
    text = f"{body}\n\nThe end."
    passages = seg(text, min_chars=50, max_chars=400)
    assert spans(text, passages) == [text]


def test_short_pieces_do_not_merge_beyond_max():
    a = "a" * 390
    text = f"{a}\n\nshort"
    passages = seg(text, min_chars=50, max_chars=392)
    assert spans(text, passages) == [a, "short"]


def test_long_paragraph_is_packed_by_lines():
    lines = [f"Line {i:03d} " + "w" * 80 for i in range(40)]
    text = "\n".join(lines)
    passages = seg(text, min_chars=100, max_chars=400)
    assert len(passages) > 1
    for piece in spans(text, passages):
        # whole lines only: every piece starts at a line start and ends at a line end
        assert piece.startswith("Line ")
        assert piece.endswith("w")


def test_long_line_is_windowed_at_sentence_ends():
    sentence = "The machine decided to help. "
    text = (sentence * 100).strip()
    passages = seg(text, min_chars=100, max_chars=300)
    assert len(passages) > 1
    for piece in spans(text, passages):
        assert piece.endswith("help.")


def test_long_word_is_cut_hard():
    text = "x" * 2500
    passages = seg(text, min_chars=10, max_chars=1000)
    assert [p.end - p.start for p in passages] == [1000, 1000, 500]


@pytest.mark.parametrize("line_end", ["\r\n", " \n", "\u00a0\n"], ids=["crlf", "space", "nbsp"])
def test_long_line_with_trailing_space_before_newline(line_end):
    text = "y" * 130 + line_end + "the"
    seg(text, min_chars=1, max_chars=50)


def test_long_crlf_lines_of_words():
    # the common shape of web text with Windows line ends, but no line longer than max_chars
    text = "\r\n".join("word " * 20 + "end." for _ in range(30))
    seg(text, min_chars=50, max_chars=300)


def test_offsets_are_code_points():
    text = "Ünïcødé 🤖 robots.\n\n" + "é" * 50
    passages = seg(text, min_chars=1, max_chars=60)
    assert spans(text, passages) == ["Ünïcødé 🤖 robots.", "é" * 50]


def test_config_defaults_are_valid_for_segment():
    cfg = SegmentConfig()
    text = "\n\n".join(f"Paragraph {i}. " + "word " * (i * 37 % 400) for i in range(30))
    seg(text, min_chars=cfg.min_chars, max_chars=cfg.max_chars)


# ----------------------------------------------------------------------------------------------------------
# properties
# ----------------------------------------------------------------------------------------------------------

WORDS = st.sampled_from(
    [
        "the",
        "robot",
        "said",
        "Hello.",
        "no!",
        "why?",
        "AI",
        "(yes).",
        "“quoted.”",
        "é",
        "🤖",
        "x" * 40,
        "y" * 130,
        "end.\u00a0",
        "tab\there",
    ]
)
SEPARATORS = st.sampled_from([" ", " ", " ", "  ", "\n", "\n\n", "\n \n", "\r\n", "\t", "\n\n\n  "])
TOKENS = st.one_of(WORDS, WORDS, SEPARATORS)


@st.composite
def texts(draw: st.DrawFn) -> str:
    return "".join(draw(st.lists(TOKENS, max_size=400)))


@st.composite
def sizes(draw: st.DrawFn) -> tuple[int, int]:
    max_chars = draw(st.integers(min_value=50, max_value=1500))
    min_chars = draw(st.integers(min_value=1, max_value=max_chars))
    return min_chars, max_chars


@settings(
    max_examples=400, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(text=texts(), size=sizes())
def test_segment_properties(text, size):
    min_chars, max_chars = size
    seg(text, min_chars=min_chars, max_chars=max_chars)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(text=st.text(alphabet=st.sampled_from("ab .!?\n\t\r\u00a0\u2028é"), max_size=3000), size=sizes())
def test_segment_properties_arbitrary_characters(text, size):
    min_chars, max_chars = size
    seg(text, min_chars=min_chars, max_chars=max_chars)


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(text=texts())
def test_segment_is_deterministic(text):
    assert segment(text, min_chars=200, max_chars=1000) == segment(text, min_chars=200, max_chars=1000)
