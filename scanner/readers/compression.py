"""Opening inputs (local paths and URLs through fsspec) and undoing their compression, as streams.

Compression is detected from the first bytes, not the name: gzip (multi-member included) through python-isal's
igzip, Zstandard through ``zstandard``; anything else is read as it is.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

import fsspec
from isal import igzip

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
        gz = igzip.IGzipFile(fileobj=stream, mode="rb")
        try:
            yield io.BufferedReader(gz, buffer_size=READ_CHUNK)  # type: ignore[arg-type]
        finally:
            gz.close()
    elif kind == "zstd":
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True, closefd=False)
        try:
            yield io.BufferedReader(reader, buffer_size=READ_CHUNK)  # type: ignore[arg-type]
        finally:
            reader.close()
    else:
        yield stream


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
