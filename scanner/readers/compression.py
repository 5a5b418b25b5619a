"""Opening inputs (local paths and URLs through fsspec) and undoing their compression, as streams.

Compression is detected from the first bytes, not the name: gzip (multi-member included) through python-isal's
igzip, Zstandard through ``zstandard``; anything else is read as it is.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

import fsspec
from isal import isal_zlib

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
READ_CHUNK = 1 << 20


def compression_of(head: bytes) -> str | None:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return None


@contextmanager
def open_raw(source: str) -> Iterator[BinaryIO]:
    """The file as stored (compressed bytes), from a local path or any fsspec URL."""
    with fsspec.open(source, mode="rb", block_size=READ_CHUNK) as handle:
        yield handle


class CorruptStream(Exception):
    """The compressed stream holds data that does not decompress; nothing after it can be read."""


@contextmanager
def open_decompressed(stream: BinaryIO, head: bytes) -> Iterator[BinaryIO]:
    """A buffered stream of the decompressed content of ``stream`` (whose first bytes are ``head``).

    Raises (while reading) ``EOFError`` when the data ends inside a gzip member or zstd frame, and
    :class:`CorruptStream` on data that does not decompress, only after handing out everything before it.
    """
    kind = compression_of(head)
    raw: Any = FrameStream(stream, kind) if kind else stream
    buffered = io.BufferedReader(raw, buffer_size=READ_CHUNK)
    try:
        yield buffered
    finally:
        buffered.detach()  # leave the input open: the pipeline drains it into the file's digest


class FrameStream(io.RawIOBase):
    """Decompressed bytes of a multi-member gzip or multi-frame zstd stream, delivered up to any damage.

    Unlike ``gzip.GzipFile`` (or zstandard's ``stream_reader``, which stops silently at a cut frame) it hands
    out everything that decompressed before raising, so a reader loses only the record the damage is in.
    """

    def __init__(self, raw: BinaryIO, kind: str) -> None:
        super().__init__()
        self.raw = raw
        self.kind = kind
        # zstd's decompressobj has no output bound, so it gets smaller input pieces
        self._chunk = READ_CHUNK if kind == "gzip" else 1 << 16
        self._decomp: Any = None
        self._pending = b""
        self._out = b""
        self._error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._out:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if not self._produce():
                return 0
        n = min(len(view), len(self._out))
        view[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _new_decompressor(self) -> Any:
        if self.kind == "gzip":
            return isal_zlib.decompressobj(31)
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj()

    def _produce(self) -> bool:
        """Decompress the next piece into ``_out``; ``False`` at a clean end of the stream."""
        if not self._pending:
            self._pending = self.raw.read(self._chunk)
            if not self._pending:
                if self._decomp is not None:
                    self._decomp = None
                    self._error = EOFError(f"compressed stream ends inside a {self.kind} member")
                    return True
                return False
        if self._decomp is None:
            if not self._pending.strip(b"\x00"):  # zero padding after the last member
                self._pending = b""
                return True
            self._decomp = self._new_decompressor()
        data, self._pending = self._pending, b""
        try:
            if self.kind == "gzip":
                self._out = self._decomp.decompress(data, READ_CHUNK)
            else:
                self._out = self._decomp.decompress(data)
        except Exception as exc:  # noqa: BLE001 - isal_zlib.error / zstandard.ZstdError share no base
            self._error = CorruptStream(f"{self.kind} data error ({exc})")
            return True
        if self._decomp.eof:
            self._pending = self._decomp.unused_data
            self._decomp = None
        elif self.kind == "gzip":
            self._pending = self._decomp.unconsumed_tail
        return True


def decompressed_head(head: bytes, n: int = 65536) -> bytes:
    """Up to ``n`` leading bytes of the decompressed content of a file starting with ``head``.

    Tolerant on purpose: a truncated or corrupt stream yields what decompresses, never an exception, so a damaged
    file is still recognised and then read record by record with every loss counted.
    """
    kind = compression_of(head)
    if kind is None:
        return head[:n]
    out = b""
    try:
        with open_decompressed(io.BytesIO(head), head) as stream:
            while len(out) < n:
                piece = stream.read1(n - len(out))  # type: ignore[attr-defined]
                if not piece:
                    break
                out += piece
            return out
    except (EOFError, CorruptStream, OSError):
        return out
