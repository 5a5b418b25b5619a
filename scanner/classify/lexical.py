"""The cheap semantic tier: a linear model per trope over TF-IDF weighted words and word pairs.

Featurisation is ours (not a vectoriser object) so that fitting and scoring share one definition and a fitted head
is plain arrays: words are runs of letters and digits in the folded text (apostrophes kept inside a word, so
"can't" and "won't" survive as negations), features are the words and adjacent word pairs, weighted by sublinear
term frequency (``1 + ln tf``) times smoothed inverse document frequency (``ln((1 + n) / (1 + df)) + 1``) and
L2-normalised. The vocabulary is every feature seen in at least ``min_df`` training passages, in sorted order.
Scoring one passage costs tens of microseconds; it is what decides which passages pay for the transformer.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from scanner.classify.cues import fold

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
MIN_DF = 2


def features(text: str) -> Counter[str]:
    """Word and word-pair counts of ``text``."""
    words = _WORD.findall(fold(text))
    counts = Counter(words)
    counts.update(f"{a} {b}" for a, b in itertools.pairwise(words))
    return counts


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The kept features (sorted: a feature's position is its column) and their inverse document frequencies."""

    terms: tuple[str, ...]
    idf: np.ndarray
    columns: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", {t: i for i, t in enumerate(self.terms)})

    @classmethod
    def fit(cls, texts: Sequence[str], *, min_df: int = MIN_DF) -> Vocabulary:
        df: Counter[str] = Counter()
        for text in texts:
            df.update(features(text).keys())
        kept = sorted(term for term, count in df.items() if count >= min_df)
        n = len(texts)
        idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in kept], dtype=np.float64)
        return cls(tuple(kept), idf)

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The passage's non-zero columns and their (normalised) weights."""
        counts = features(text)
        pairs = sorted((self.columns[t], c) for t, c in counts.items() if t in self.columns)
        if not pairs:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        cols = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
        tf = np.fromiter((p[1] for p in pairs), dtype=np.float64, count=len(pairs))
        weights = (1.0 + np.log(tf)) * self.idf[cols]
        return cols, weights / np.linalg.norm(weights)

    def matrix(self, texts: Sequence[str]) -> object:
        """A scipy CSR matrix of the texts (for fitting)."""
        from scipy.sparse import csr_matrix

        indptr = [0]
        indices: list[np.ndarray] = []
        data: list[np.ndarray] = []
        for text in texts:
            cols, weights = self.vector(text)
            indices.append(cols)
            data.append(weights)
            indptr.append(indptr[-1] + len(cols))
        return csr_matrix(
            (
                np.concatenate(data) if data else np.zeros(0),
                np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64),
                np.array(indptr),
            ),
            shape=(len(texts), len(self.columns)),
        )


@dataclass(frozen=True, slots=True)
class LexicalHead:
    """One logistic regression per trope over a :class:`Vocabulary`: ``logit = x . coef[:, j] + bias[j]``."""

    vocabulary: Vocabulary
    coef: np.ndarray  # (features, tropes)
    bias: np.ndarray  # (tropes,)

    def logits(self, text: str) -> np.ndarray:
        cols, weights = self.vocabulary.vector(text)
        return np.asarray(weights @ self.coef[cols] + self.bias, dtype=np.float64)

    def top_terms(self, text: str, column: int, k: int = 3) -> list[str]:
        """The features that pushed ``text`` hardest towards trope ``column`` (for the evidence)."""
        cols, weights = self.vocabulary.vector(text)
        if not len(cols):
            return []
        push = weights * self.coef[cols, column]
        order = np.argsort(-push, kind="stable")[:k]
        return [self.vocabulary.terms[int(cols[i])] for i in order if push[i] > 0]
