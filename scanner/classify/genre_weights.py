"""Genre model weights: written by tools/fit_genre.py (do not edit by hand).

Fit on 604 exemplars of taxonomy ai_self_preservation v1.0 (sha256 3370a1ee7f91): 226 fiction, 378 non-fiction;
training accuracy 0.805. L2 = 1.0. BOOK_PRIOR is set, not fitted.
"""

BIAS = 0.4967
BOOK_PRIOR = 1.5
WEIGHTS: dict[str, float] = {
    "quotes": 0.3703,
    "digits": -0.3375,
    "word_length": -1.7914,
    "speech": 0.2260,
    "third": 0.3332,
    "past": 0.1832,
    "first": 0.0712,
    "we": -0.1033,
    "second": 0.1211,
    "present": -1.2130,
    "nonfiction": -0.4080,
    "meta": -1.2642,
    "academic": -0.5828,
    "fiction": 0.5696,
}
