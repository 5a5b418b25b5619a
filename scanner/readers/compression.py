"""Opening inputs (local paths and URLs through fsspec) and undoing their compression, as streams.

Compression is detected from the first bytes, not the name: gzip (multi-member included) through python-isal's
igzip, Zstandard through ``zstandard``; anything else is read as it is.
"""

from __future__ import annotations

import io
from collections import deque
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


def damage_reason(exc: BaseException, kind: str | None) -> str:
    """The skip reason for a stream that stopped with ``exc`` (from :func:`open_decompressed`)."""
    if isinstance(exc, EOFError):
        return f"truncated_{kind}" if kind else "truncated"
    return f"corrupt_{kind}" if kind else "unreadable"


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


_MAGIC = {"gzip": b"\x1f\x8b\x08", "zstd": ZSTD_MAGIC}
# Compressed bytes fed to the decompressor at a time. Small on purpose: at the end of every member the
# decompressor copies all the input it was given but did not use (``unused_data``), and Common Crawl members
# are a few KB, so a 1 MiB feed would copy ~250 MiB per MiB read.
FEED_BYTES = 1 << 16
_PADDING = b"\x00 \t\r\n"


class MemberReader:
    """Decompresses a multi-member gzip (or multi-frame zstd) stream piece by piece.

    It knows where each member starts (``members``: decompressed offset, offset in the file as stored) and
    raises only after handing out everything that decompressed before the damage: ``EOFError`` when the file
    ends inside a member, :class:`CorruptStream` on data that does not decompress. With ``resync`` it then goes
    on at the next member header, so one corrupt member costs only what was in it. NUL or white-space padding
    after the last member is ignored.
    """

    def __init__(self, raw: BinaryIO, kind: str, *, resync: bool = False) -> None:
        self.raw = raw
        self.kind = kind
        self.resync = resync
        self.members: deque[tuple[int, int]] = deque()
        self.produced = 0  # decompressed bytes handed out
        self._decomp: Any = None
        self._pending = b""  # compressed bytes read but not yet used
        self._pending_at = 0  # offset in the file of _pending[0]
        self._done = False

    def _new_decompressor(self) -> Any:
        if self.kind == "gzip":
            return isal_zlib.decompressobj(31)
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj()

    def _read(self) -> bool:
        more = self.raw.read(FEED_BYTES)
        if not more:
            return False
        self._pending += more
        return True

    def next_chunk(self) -> bytes:
        """The next piece of decompressed data; ``b""`` at a clean end of the stream."""
        while not self._done:
            if not self._pending and not self._read():
                self._done = True
                if self._decomp is not None:
                    self._decomp = None
                    raise EOFError(f"compressed stream ends inside a {self.kind} member")
                return b""
            if self._decomp is None and not self._start_member():
                continue
            data = self._pending
            try:
                out = (
                    self._decomp.decompress(data, FEED_BYTES) if self.kind == "gzip" else self._decomp.decompress(data)
                )
            except Exception as exc:  # isal_zlib.error and zstandard.ZstdError share no base
                self._decomp = None
                self._skip_member(search_from=1)
                raise CorruptStream(f"{self.kind} data error ({exc})") from exc
            finished = self._decomp.eof
            rest = self._decomp.unused_data if finished else getattr(self._decomp, "unconsumed_tail", b"")
            self._pending_at += len(data) - len(rest)
            self._pending = rest
            if finished:
                self._decomp = None
            if out:
                self.produced += len(out)
                return bytes(out)
        return b""

    def _start_member(self) -> bool:
        """Begin a member at the read position; ``False`` when there was padding or junk to skip first."""
        magic = _MAGIC[self.kind]
        while len(self._pending) < len(magic) and self._read():
            pass
        if self._pending.startswith(magic):
            self.members.append((self.produced, self._pending_at))
            self._decomp = self._new_decompressor()
            return True
        if not self._pending.strip(_PADDING):
            while self._read():  # padding so far: is there anything else?
                if self._pending.strip(_PADDING):
                    break
            else:
                self._pending_at += len(self._pending)
                self._pending = b""
                return False
        self._skip_member(search_from=0)
        raise CorruptStream(f"bytes between {self.kind} members are not {self.kind} data")

    def _skip_member(self, *, search_from: int) -> None:
        """Stop (without ``resync``), or drop compressed bytes up to the next member header."""
        if not self.resync:
            self._done = True
            return
        magic = _MAGIC[self.kind]
        while True:
            hit = self._pending.find(magic, search_from)
            if hit >= 0:
                self._pending_at += hit
                self._pending = self._pending[hit:]
                return
            keep = self._pending[-(len(magic) - 1) :]
            self._pending_at += len(self._pending) - len(keep)
            self._pending = keep
            if not self._read():
                self._pending_at += len(self._pending)
                self._pending = b""
                return
            search_from = 0


class FrameStream(io.RawIOBase):
    """A readable stream over :class:`MemberReader` (no resync: reading ends at the first damage)."""

    def __init__(self, raw: BinaryIO, kind: str) -> None:
        super().__init__()
        self._members = MemberReader(raw, kind)
        self._out = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if not self._out:
            self._out = self._members.next_chunk()
            if not self._out:
                return 0
        n = min(len(view), len(self._out))
        view[:n] = self._out[:n]
        self._out = self._out[n:]
        return n


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
