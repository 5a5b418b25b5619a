"""LSH banding: the (bands, rows) a Jaccard threshold calls for, chosen as datasketch's ``MinHashLSH`` chooses
them, and one 64-bit hash per band of a signature (band ``k`` holds values ``k*rows`` to ``(k+1)*rows - 1``,
datasketch's layout)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from scanner.dedup.minhash import fmix64

_STEP = np.uint64(0x9E3779B97F4A7C15)


def _false_positive(threshold: float, b: int, r: int) -> float:
    from scipy.integrate import quad

    value, _ = quad(lambda s: 1 - (1 - s ** float(r)) ** float(b), 0.0, threshold)
    return float(value)


def _false_negative(threshold: float, b: int, r: int) -> float:
    from scipy.integrate import quad

    value, _ = quad(lambda s: 1 - (1 - (1 - s ** float(r)) ** float(b)), threshold, 1.0)
    return float(value)


@lru_cache(maxsize=64)
def optimal_params(
    threshold: float, num_perm: int, *, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> tuple[int, int]:
    """The ``(bands, rows)`` with ``bands * rows <= num_perm`` minimising the weighted sum of the false-positive
    and false-negative probability mass around ``threshold`` (datasketch's ``_optimal_param``)."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"the Jaccard threshold must be between 0 and 1, not {threshold}")
    best, best_error = (0, 0), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            error = (
                _false_positive(threshold, b, r) * false_positive_weight
                + _false_negative(threshold, b, r) * false_negative_weight
            )
            if error < best_error:
                best, best_error = (b, r), error
    return best


def band_hashes(minhash: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """``(docs, bands)`` uint64: each band's ``rows`` values folded into one hash (equal bands, equal hash)."""
    if bands * rows > minhash.shape[1]:
        raise ValueError(f"{bands} bands of {rows} rows need {bands * rows} values, signatures have {minhash.shape[1]}")
    values = minhash.astype(np.uint64)
    out = np.empty((len(minhash), bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(bands):
            h = np.full(len(minhash), np.uint64(k) * _STEP, dtype=np.uint64)
            for j in range(k * rows, (k + 1) * rows):
                h = fmix64(h * _STEP + values[:, j] + np.uint64(1))
            out[:, k] = h
    return out
