"""Fiction or non-fiction, from cheap text features and the source.

Features are rates over a sample of the text (dialogue quotes, speech verbs, third-person pronouns, past-tense
auxiliaries, first and second person, present tense, digits, and two small marker lexicons). A logistic model
combines them; its weights live in :mod:`scanner.classify.genre_weights` with a record of the data that fit them
(``tools/fit_genre.py``). Books add a prior in favour of fiction (most scanned books are fiction), which strong
non-fiction features can still outweigh: books are fiction by prior, not by fiat.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from scanner.classify import genre_weights

SAMPLE_CHARS = 1500
_WORD = re.compile(r"\w+")
_DIGIT_CHARS = frozenset("0123456789")

_SETS: dict[str, frozenset[str]] = {
    "speech": frozenset(
        [
            "said",
            "says",
            "asked",
            "replied",
            "cried",
            "shouted",
            "whispered",
            "answered",
            "muttered",
            "exclaimed",
            "murmured",
            "snapped",
            "growled",
            "yelled",
            "laughed",
            "sighed",
        ]
    ),
    "third": frozenset(["he", "she", "him", "her", "his", "himself", "herself"]),
    "past": frozenset(["was", "were", "had", "did"]),
    "first": frozenset(["i", "me", "my", "myself"]),
    "we": frozenset(["we", "our", "us", "ourselves"]),
    "second": frozenset(["you", "your", "yours", "yourself"]),
    "present": frozenset(["is", "are", "has", "does", "can", "will"]),
    "nonfiction": frozenset(
        [
            "percent",
            "according",
            "study",
            "studies",
            "research",
            "report",
            "reports",
            "data",
            "company",
            "companies",
            "users",
            "published",
            "information",
            "website",
            "online",
            "product",
            "products",
            "service",
            "services",
            "policy",
            "price",
            "researchers",
            "per",
            "government",
            "university",
            "market",
            "customers",
            "available",
            "including",
        ]
    ),
    "meta": frozenset(
        [
            "novel",
            "novels",
            "film",
            "films",
            "movie",
            "story",
            "stories",
            "book",
            "books",
            "episode",
            "episodes",
            "character",
            "characters",
            "plot",
            "author",
            "authors",
            "reader",
            "readers",
            "series",
            "game",
            "games",
            "players",
            "trope",
            "season",
            "sequel",
            "chapter",
            "review",
        ]
    ),
    "academic": frozenset(
        [
            "however",
            "therefore",
            "such",
            "may",
            "might",
            "whether",
            "which",
            "these",
            "approach",
            "results",
            "evidence",
            "concern",
            "risk",
            "risks",
            "model",
            "models",
            "system",
            "systems",
            "paper",
            "method",
            "methods",
            "analysis",
            "findings",
            "suggests",
            "significant",
        ]
    ),
    "fiction": frozenset(
        [
            "looked",
            "eyes",
            "smiled",
            "turned",
            "voice",
            "face",
            "felt",
            "whispered",
            "door",
            "suddenly",
            "stared",
            "glanced",
            "nodded",
            "shook",
            "heart",
            "room",
            "silence",
            "moment",
        ]
    ),
}

FEATURES: tuple[str, ...] = ("quotes", "digits", "word_length", *_SETS)


def sample(text: str) -> str:
    """The text itself when short; else three windows (at 10%, 45% and 80%): books skip their front matter, and
    the cost per document stays bounded (genre is computed for every document of a scan)."""
    if len(text) <= 3 * SAMPLE_CHARS:
        return text
    return " ".join(text[int(len(text) * f) : int(len(text) * f) + SAMPLE_CHARS] for f in (0.10, 0.45, 0.80))


def features(text: str) -> dict[str, float]:
    """Per-100-word rates of each feature (log-scaled) and the mean word length, over :func:`sample` of the text."""
    text = sample(text).lower()
    words = _WORD.findall(text)
    n = max(len(words), 1)
    counts = Counter(words)  # counting and the set intersections below run in C
    out = {name: sum(counts[w] for w in vocab.intersection(counts)) for name, vocab in _SETS.items()}
    out["quotes"] = text.count('"') + text.count("\u201c") + text.count("\u201d")
    out["digits"] = sum(c for w, c in counts.items() if w[0] in _DIGIT_CHARS)  # words that start with a digit
    rates = {k: math.log1p(100.0 * v / n) for k, v in out.items()}
    # mean word length, centred: long words mark technical and news prose
    rates["word_length"] = (sum(map(len, words)) / n - 4.5) if words else 0.0
    return rates


def fiction_probability(text: str, *, is_book: bool = False) -> float:
    """P(fiction) in [0, 1]."""
    f = features(text)
    z = genre_weights.BIAS + sum(genre_weights.WEIGHTS.get(k, 0.0) * v for k, v in f.items())
    if is_book:
        z += genre_weights.BOOK_PRIOR
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
