"""Genre model weights: written by tools/fit_genre.py (do not edit by hand).

Fit on 604 exemplars of taxonomy ai_self_preservation v1.0 (sha256 3ad7d6e4ebcb): 226 fiction, 378 non-fiction;
training accuracy 0.805. L2 = 1.0. BOOK_PRIOR is set, not fitted.
"""

BIAS = 0.5003
BOOK_PRIOR = 1.5
WEIGHTS: dict[str, float] = {
    "quotes": 0.3683,
    "digits": -0.3500,
    "word_length": -1.7958,
    "speech": 0.2245,
    "third": 0.3329,
    "past": 0.1814,
    "first": 0.0708,
    "we": -0.1047,
    "second": 0.1223,
    "present": -1.2149,
    "nonfiction": -0.4111,
    "meta": -1.2613,
    "academic": -0.5779,
    "fiction": 0.5685,
}
