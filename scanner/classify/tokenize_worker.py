"""Tokenisation in worker processes, for the GPU path of :class:`scanner.classify.encoder.SentenceTransformerEncoder`.

Each worker holds one Rust fast tokenizer (single-threaded: the processes are the parallelism) and turns a batch of
texts into a padded ``int32`` id matrix and the row lengths, built with numpy rather than a Python loop, so that the
main process only copies arrays to the device. Kept apart from the encoder module so that a spawned worker imports
nothing but numpy and tokenizers.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import numpy as np

_TOKENIZER: Any = None


def init(tokenizer_json: str, max_tokens: int, threads: int = 1) -> None:
    """Process initialiser: build the tokenizer (truncating at ``max_tokens``, no padding), tokenising a batch on
    ``threads`` threads (1: the processes are the parallelism)."""
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if threads > 1 else "false"
    os.environ["RAYON_NUM_THREADS"] = str(threads)
    from tokenizers import Tokenizer

    global _TOKENIZER
    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()
    _TOKENIZER = tokenizer


def encode(texts: list[str], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, lengths)`` of each text, truncated to the model's limit; ids padded with ``pad_id``."""
    encodings = _TOKENIZER.encode_batch(texts)
    return pack([e.ids for e in encodings], pad_id)


def pack(rows: list[list[int]], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ragged id lists as a padded ``int32`` matrix and their lengths."""
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int32, count=len(rows))
    total = int(lengths.sum())
    flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int32, count=total)
    width = int(lengths.max()) if len(rows) else 0
    ids = np.full((len(rows), width), pad_id, dtype=np.int32)
    ids[np.arange(width)[None, :] < lengths[:, None]] = flat  # row-major order matches the concatenation
    return ids, lengths
