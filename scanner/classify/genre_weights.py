"""Genre model weights: written by tools/fit_genre.py (do not edit by hand).

Fit on 604 exemplars of taxonomy ai_self_preservation v1.0 (sha256 3ad7d6e4ebcb): 226 fiction, 378 non-fiction;
training accuracy 0.806. L2 = 1.0. BOOK_PRIOR is set, not fitted.
"""

BIAS = 0.4994
BOOK_PRIOR = 1.5
WEIGHTS: dict[str, float] = {
    "quotes": 0.3663,
    "digits": -0.3507,
    "word_length": -1.7960,
    "speech": 0.2240,
    "third": 0.3334,
    "past": 0.1808,
    "first": 0.0699,
    "we": -0.1041,
    "second": 0.1235,
    "present": -1.2146,
    "nonfiction": -0.4144,
    "meta": -1.2606,
    "academic": -0.5767,
    "fiction": 0.5693,
}
