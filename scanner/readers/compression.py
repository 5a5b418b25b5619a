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


@contextmanager
def open_decompressed(stream: BinaryIO, head: bytes) -> Iterator[BinaryIO]:
    """Wrap a raw stream (whose first bytes are ``head``) in the decompressor its magic bytes call for."""
    kind = compression_of(head)
    if kind == "gzip":
        yield io.BufferedReader(GzipStream(stream), buffer_size=READ_CHUNK)
    elif kind == "zstd":
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True, closefd=False)
        try:
            yield io.BufferedReader(reader, buffer_size=READ_CHUNK)
        finally:
            reader.close()  # type: ignore[no-untyped-call]
    else:
        yield stream


class GzipStream(io.RawIOBase):
    """Decompressed bytes of a (multi-member) gzip stream, delivered up to the point of any damage.

    Unlike ``gzip.GzipFile`` it hands out everything that decompressed before raising, so a reader loses only
    the record the damage is in: ``EOFError`` when the stream ends inside a member, ``isal_zlib.error`` on
    corrupt data.
    """

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self.raw = raw
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

    def _produce(self) -> bool:
        """Decompress the next piece into ``_out``; ``False`` at a clean end of the stream."""
        if not self._pending:
            self._pending = self.raw.read(READ_CHUNK)
            if not self._pending:
                if self._decomp is not None:
                    self._decomp = None
                    self._error = EOFError("compressed stream ends inside a gzip member")
                    return True
                return False
        if self._decomp is None:
            if not self._pending.strip(b"\x00"):  # zero padding after the last member
                self._pending = b""
                return True
            self._decomp = isal_zlib.decompressobj(31)
        try:
            self._out = self._decomp.decompress(self._pending, READ_CHUNK)
        except isal_zlib.error as exc:  # type: ignore[misc]
            self._error = exc
            self._pending = b""
            return True
        if self._decomp.eof:
            self._pending = self._decomp.unused_data
            self._decomp = None
        else:
            self._pending = self._decomp.unconsumed_tail
        return True


def decompressed_head(head: bytes, n: int = 65536) -> bytes:
    """Up to ``n`` leading bytes of the decompressed content of a file starting with ``head``.

    Tolerant on purpose: a truncated or corrupt stream yields what decompresses, never an exception, so a damaged
    file is still recognised and then read record by record with every loss counted.
    """
    kind = compression_of(head)
    try:
        if kind == "gzip":
            from isal import isal_zlib

            return bytes(isal_zlib.decompressobj(31).decompress(head, n))
        if kind == "zstd":
            import zstandard

            return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(head)[:n])
    except Exception:  # noqa: BLE001 - sniffing must not fail; the reader reports the damage per record
        return b""
    return head[:n]
