"""MinHash signatures of documents, computed vectorised over batches.

A document's shingles are the word 5-grams of its normalised text (Unicode NFKC, case-folded, every run of
whitespace one space), each the UTF-8 bytes of the five words joined by a space; a document of one to four words
is one shingle, an empty one has none (and no signature). Each shingle is hashed to 32 bits by
:func:`shingle_hash32`: a polynomial hash of its bytes modulo 2**64 (odd multiplier, so computable for every
shingle of a batch at once from prefix sums) finished with the MurmurHash3 64-bit finaliser, high 32 bits.

The permutations are datasketch's (>= 2.0, default ``affine32`` scheme): ``a_k * fmix32(h) + b_k`` modulo 2**32,
with ``a_k`` odd and ``(a, b)`` drawn exactly as ``datasketch.MinHash(num_perm, seed)`` draws them. So a
signature here equals ``datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash32)`` updated with the same
shingles, value for value (``tests/test_dedup.py`` checks), and can be loaded into datasketch's ``MinHashLSH``.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

import numpy as np

NGRAM = 5
DEFAULT_NUM_PERM = 128
DEFAULT_SEED = 1
POWERS_KEPT = 1 << 23  # bytes of batch text whose hash powers stay cached (2 x 64 MiB)
CHUNK_SHINGLES = 16_384  # rows of the shingles x permutations matrix computed at once (8 MiB at 128 permutations)

_M64 = (1 << 64) - 1
_P = 0x9E3779B97F4A7C15  # odd: invertible modulo 2**64
_P_INV = pow(_P, -1, 1 << 64)
_FMIX64 = (33, 0xFF51AFD7ED558CCD, 33, 0xC4CEB9FE1A85EC53, 33)
_FMIX32 = (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16)


def normalize(text: str) -> str:
    """NFKC, case folded, whitespace runs turned into one space, no leading or trailing space."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def shingles(text: str, ngram: int = NGRAM) -> list[bytes]:
    """The shingles of ``text`` (reference implementation; signatures compute them vectorised)."""
    words = normalize(text).split(" ") if text.strip() else []
    words = [w for w in words if w]
    if not words:
        return []
    if len(words) < ngram:
        return [" ".join(words).encode("utf-8")]
    return [" ".join(words[i : i + ngram]).encode("utf-8") for i in range(len(words) - ngram + 1)]


def _fmix64_int(h: int) -> int:
    s1, m1, s2, m2, s3 = _FMIX64
    h ^= h >> s1
    h = (h * m1) & _M64
    h ^= h >> s2
    h = (h * m2) & _M64
    return h ^ (h >> s3)


def shingle_hash32(data: bytes) -> int:
    """The 32-bit hash of one shingle (the scalar twin of the vectorised hash; pass it to datasketch as
    ``hashfunc`` to get the same signatures)."""
    h = 0
    power = 1
    for byte in data:
        h = (h + (byte + 1) * power) & _M64
        power = (power * _P) & _M64
    return _fmix64_int(h) >> 32


def _fmix(h: np.ndarray, constants: tuple[int, int, int, int, int], dtype: type[np.unsignedinteger]) -> np.ndarray:
    """The MurmurHash3 finaliser, element-wise (multiplication wraps modulo the width of ``dtype``)."""
    s1, m1, s2, m2, s3 = (dtype(v) for v in constants)
    h = h ^ (h >> s1)
    h = h * m1
    h = h ^ (h >> s2)
    h = h * m2
    return np.asarray(h ^ (h >> s3))


def fmix64(h: np.ndarray) -> np.ndarray:
    return _fmix(h, _FMIX64, np.uint64)


def _fmix32(h: np.ndarray) -> np.ndarray:
    return _fmix(h, _FMIX32, np.uint32)


def exact_hash(normalized: str) -> str:
    """16 hex digits of blake2b over the normalised text: equal for documents that are the same text up to
    Unicode form, case and whitespace."""
    return hashlib.blake2b(normalized.encode("utf-8"), digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Signed:
    """A batch's signatures: one row per text (all ``MAX`` for a text without shingles), the number of
    shingles of each text, and each text's exact hash (``None`` when empty)."""

    minhash: np.ndarray  # (texts, num_perm) uint32
    n_shingles: np.ndarray  # (texts,) int64
    exact: list[str | None]
    hashes: list[np.ndarray]  # per text, its sorted distinct shingle hashes, or empty when not kept


@dataclass(frozen=True, slots=True)
class DocSignature:
    """One document's row of a :class:`Signed` batch."""

    minhash: np.ndarray  # (num_perm,) uint32
    n_shingles: int
    exact: str | None
    shingles: np.ndarray | None  # sorted distinct shingle hashes, kept for long documents only


@dataclass(frozen=True, slots=True)
class Signatures:
    """A document's signature and those of its labelled passages (by passage start)."""

    doc: DocSignature
    passages: dict[int, DocSignature]


def passage_id(doc_id: str, start: int) -> str:
    """How a passage is named in ``passages/<shard>.parquet`` and in cluster names: ``doc_id:start``."""
    return f"{doc_id}:{start}"


def rows(signed: Signed) -> list[DocSignature]:
    """The batch's rows, in order."""
    out = []
    for i, exact in enumerate(signed.exact):
        kept = signed.hashes[i] if len(signed.hashes[i]) else None
        out.append(DocSignature(signed.minhash[i], int(signed.n_shingles[i]), exact, kept))
    return out


class MinHasher:
    """Vectorised MinHash over word n-gram shingles, with datasketch's permutations."""

    def __init__(
        self, *, num_perm: int = DEFAULT_NUM_PERM, seed: int = DEFAULT_SEED, ngram: int = NGRAM, keep_above: int = 0
    ) -> None:
        """``keep_above``: keep the distinct shingle hashes of texts with more shingles than this (0: never),
        for exact Jaccard where a 128-value estimate misleads (books)."""
        if num_perm < 1 or ngram < 1:
            raise ValueError("num_perm and ngram must be positive")
        self.num_perm = num_perm
        self.seed = seed
        self.ngram = ngram
        self.keep_above = keep_above
        gen = np.random.RandomState(seed)  # as datasketch draws its affine32 permutations
        a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
        b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
        self.a = a[None, :]
        self.b = b[None, :]
        self._pow = np.ones(1, dtype=np.uint64)
        self._inv = np.ones(1, dtype=np.uint64)

    def _powers(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``P**i`` and ``P**-i`` modulo 2**64 for ``i < n`` (kept for the next batch up to ``POWERS_KEPT``)."""
        if len(self._pow) >= n:
            return self._pow[:n], self._inv[:n]
        size = min(max(n, 2 * len(self._pow)), max(n, POWERS_KEPT))
        made = []
        with np.errstate(over="ignore"):
            for base in (_P, _P_INV):
                values = np.full(size, base, dtype=np.uint64)
                values[0] = 1
                made.append(np.cumprod(values, dtype=np.uint64))
        if size <= POWERS_KEPT:
            self._pow, self._inv = made
        return made[0][:n], made[1][:n]

    def _shingle_hashes(self, normalized: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Every shingle's 32-bit hash over the batch, and the number of shingles of each text."""
        encoded = [t.encode("utf-8") for t in normalized]
        lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
        data = np.frombuffer(b"\n".join(encoded), dtype=np.uint8)
        counts = np.zeros(len(encoded), dtype=np.int64)
        if not len(data):
            return np.zeros(0, dtype=np.uint32), counts
        # word boundaries: a word starts after a space or separator (or at 0) and ends before one
        brk = (data == 0x20) | (data == 0x0A)
        idx = np.arange(len(data), dtype=np.int64)
        nonbrk = ~brk
        starts = idx[nonbrk & np.concatenate(([True], brk[:-1]))]
        ends = idx[nonbrk & np.concatenate((brk[1:], [True]))] + 1
        doc_start = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))
        word_doc = np.searchsorted(doc_start, starts, side="right") - 1
        words_per_doc = np.bincount(word_doc, minlength=len(encoded))
        first_word = np.concatenate(([0], np.cumsum(words_per_doc)[:-1]))
        n = self.ngram
        counts = np.where(words_per_doc >= n, words_per_doc - n + 1, np.minimum(words_per_doc, 1))
        total = int(counts.sum())
        if not total:
            return np.zeros(0, dtype=np.uint32), counts
        shingle_doc = np.repeat(np.arange(len(encoded)), counts)
        within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        first = first_word[shingle_doc] + within
        last = np.minimum(first + n - 1, first_word[shingle_doc] + words_per_doc[shingle_doc] - 1)
        s, e = starts[first], ends[last]
        # polynomial prefix hash modulo 2**64 (numpy uint64 arithmetic wraps)
        with np.errstate(over="ignore"):
            powers, inverse = self._powers(len(data) + 1)
            prefix = np.zeros(len(data) + 1, dtype=np.uint64)
            np.cumsum((data.astype(np.uint64) + np.uint64(1)) * powers[:-1], dtype=np.uint64, out=prefix[1:])
            h = (prefix[e] - prefix[s]) * inverse[s]
            return (fmix64(h) >> np.uint64(32)).astype(np.uint32), counts

    def sign(self, texts: list[str]) -> Signed:
        """Signatures of ``texts`` (one batch: its shingle hashes are held at once, its permutations computed
        ``CHUNK_SHINGLES`` rows at a time)."""
        normalized = [normalize(t) for t in texts]
        hv, counts = self._shingle_hashes(normalized)
        out = np.full((len(texts), self.num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
        ends = np.cumsum(counts)
        begins = ends - counts
        with np.errstate(over="ignore"):
            mixed = _fmix32(hv)
            buffer = np.empty((min(CHUNK_SHINGLES, len(mixed)), self.num_perm), dtype=np.uint32)
            for lo in range(0, len(mixed), CHUNK_SHINGLES):
                hi = min(lo + CHUNK_SHINGLES, len(mixed))
                phv = np.multiply(mixed[lo:hi, None], self.a, out=buffer[: hi - lo])  # wraps modulo 2**32
                np.add(phv, self.b, out=phv)
                # the texts with shingles in [lo, hi): their segments clipped to the chunk
                first = int(np.searchsorted(ends, lo, side="right"))
                last = int(np.searchsorted(begins, hi, side="left"))
                docs = np.arange(first, last)
                docs = docs[counts[docs] > 0]
                if not len(docs):
                    continue
                seg = np.maximum(begins[docs], lo) - lo
                reduced = np.minimum.reduceat(phv, seg, axis=0)
                out[docs] = np.minimum(out[docs], reduced)
        kept: list[np.ndarray] = []
        empty = np.zeros(0, dtype=np.uint32)
        for i, c in enumerate(counts):
            if self.keep_above and c > self.keep_above:
                kept.append(np.unique(hv[begins[i] : ends[i]]))
            else:
                kept.append(empty)
        exact = [exact_hash(t) if t else None for t in normalized]
        return Signed(out, counts.astype(np.int64), exact, kept)
