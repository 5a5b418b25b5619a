"""WARC record framing that accounts for every record, damaged ones included.

FastWARC parses records fast, but on damaged input it stops silently (a truncated gzip member ends the iteration
without an error) or gives up on the rest of the file (one malformed header raises and the iterator is done),
and a record with a wrong ``Content-Length`` is returned with a corrupted body before the *next* record fails.
A scanner that must count every skipped record needs more than that, so framing happens here:

* gzip members are decompressed one by one (python-isal), so each record knows the compressed offset of its
  member (the offset Common Crawl's index gives) and a corrupt member costs that record only: reading
  resumes at the next member;
* each record's ``Content-Length`` is checked against what follows the block (blank lines, then the next
  ``WARC/`` line or the end of the file); on a mismatch, or a malformed header, the record is reported and
  reading resumes at the next line that starts a WARC record;
* a record larger than the size cap is streamed past, never held in memory.

The framed bytes of each record are then parsed by FastWARC (HTTP headers, chunked and compressed payloads):
see :mod:`scanner.readers.warc`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from scanner.errors import RecordError
from scanner.readers.compression import READ_CHUNK, CorruptStream, MemberReader, compression_of

MAX_HEADER_BYTES = 1 << 20
_WS = b" \t\r\n\x00"  # NUL: some writers pad files


class _Truncated(Exception):
    """The stream ended inside a gzip member."""


class _Corrupt(Exception):
    """A gzip member could not be decompressed; the stream has moved on to the next member."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(slots=True)
class RawRecord:
    """One framed WARC record. ``block`` is ``None`` when ``error`` is set (or the record was too large)."""

    index: int
    offset: int
    headers: dict[str, str]
    header_bytes: bytes
    block: bytes | None
    error: RecordError | None = None

    @classmethod
    def failed(
        cls, index: int, offset: int, reason: str, message: str, headers: dict[str, str] | None = None
    ) -> RawRecord:
        return cls(index, offset, headers or {}, b"", None, RecordError(reason, message))


class _Source:
    """The decompressed bytes of a WARC file in a sliding buffer, with gzip member offsets."""

    def __init__(self, raw: BinaryIO, head: bytes) -> None:
        self.raw = raw
        self.gzip = compression_of(head) == "gzip"
        self.members = MemberReader(raw, "gzip", resync=True) if self.gzip else None
        self.buf = bytearray()
        self.pos = 0  # read position in buf
        self.base = 0  # decompressed offset of buf[0]
        self.eof = False

    # -- positions -------------------------------------------------------------------------------------------
    @property
    def offset(self) -> int:
        """Decompressed offset of the read position."""
        return self.base + self.pos

    def stored_offset(self, uoffset: int) -> int:
        """Offset in the file as stored: the gzip member holding ``uoffset`` for gzip, else ``uoffset``."""
        if self.members is None:
            return uoffset
        members = self.members.members
        best = 0
        for ustart, cstart in members:
            if ustart <= uoffset:
                best = cstart
            else:
                break
        while len(members) > 1 and members[1][0] <= uoffset:
            members.popleft()
        return best

    # -- buffer management -----------------------------------------------------------------------------------
    def fill(self) -> bool:
        """Append more decompressed bytes to the buffer; ``False`` at the end of the stream."""
        if self.eof:
            return False
        if self.pos > READ_CHUNK:
            del self.buf[: self.pos]
            self.base += self.pos
            self.pos = 0
        if self.members is None:
            chunk = self.raw.read(READ_CHUNK)
        else:
            try:
                chunk = self.members.next_chunk()
            except EOFError as exc:
                self.eof = True
                raise _Truncated from exc
            except CorruptStream as exc:
                raise _Corrupt(str(exc)) from exc
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def drop_buffer(self) -> None:
        """Forget buffered decompressed bytes (after a corrupt member: they cannot be trusted)."""
        self.base += len(self.buf)
        self.buf = bytearray()
        self.pos = 0

    def ensure(self, n: int) -> bool:
        """Make at least ``n`` bytes available after ``pos``; ``False`` when the stream ends first."""
        while len(self.buf) - self.pos < n:
            if not self.fill():
                return False
        return True


class WarcFramer:
    """Iterate the records of one WARC / WET stream, reporting damaged ones instead of stopping."""

    def __init__(self, raw: BinaryIO, *, head: bytes, max_record_bytes: int) -> None:
        self.src = _Source(raw, head)
        self.max_record_bytes = max_record_bytes
        # Decompressed offsets [start, end) where no header terminator starts, as the last header search found.
        # After a malformed header, reading resumes at the next WARC/ line, often inside the stretch just
        # searched: without this, lines of garbage would each be searched up to MAX_HEADER_BYTES again.
        self._no_header_end = (0, 0)

    def __iter__(self) -> Iterator[RawRecord]:
        index = 0
        src = self.src
        while True:
            self._record_start = src.offset
            try:
                if not self._skip_blank():
                    return
                record = self._read_record(index)
            except _Truncated:
                yield self._failed(index, "truncated_gzip", "gzip stream ends inside a member")
                return
            except _Corrupt as exc:
                src.drop_buffer()
                yield self._failed(index, "corrupt_gzip", exc.detail)
                index += 1
                continue
            yield record
            index += 1

    _record_start = 0

    def _failed(self, index: int, reason: str, detail: str) -> RawRecord:
        offset = self.src.stored_offset(self._record_start)
        return RawRecord.failed(index, offset, reason, detail)

    def _skip_blank(self) -> bool:
        """Move past blank lines; ``False`` at a clean end of the stream."""
        src = self.src
        while True:
            buf = src.buf
            n = len(buf)
            while src.pos < n and buf[src.pos] in _WS:
                src.pos += 1
            if src.pos < n:
                self._record_start = src.offset
                return True
            if not src.fill():
                return False

    def _resync(self) -> None:
        """Move to the next line that starts with ``WARC/`` (or the end of the stream)."""
        src = self.src
        while True:
            hit = src.buf.find(b"\nWARC/", src.pos + 1)
            if hit >= 0:
                src.pos = hit + 1
                return
            src.pos = max(src.pos, len(src.buf) - 6)
            if not src.fill():
                src.pos = len(src.buf)
                return

    def _read_record(self, index: int) -> RawRecord:
        src = self.src
        stored = src.stored_offset(self._record_start)
        if not src.ensure(5):
            src.pos = len(src.buf)
            return RawRecord.failed(index, stored, "truncated_record", "file ends inside a WARC header")
        if not src.buf.startswith(b"WARC/", src.pos):
            self._resync()
            return RawRecord.failed(
                index, stored, "malformed_warc_header", "record does not start with a WARC/ version line"
            )
        end = self._header_end()
        # No header field starts with "WARC/" (not a field name): such a line starts the next record, and this
        # header lost its blank line. Resyncing there also keeps each record's header work to its own lines.
        nested = src.buf.find(b"\nWARC/", src.pos, end[0] if end else len(src.buf))
        if nested >= 0:
            src.pos = nested + 1
            return RawRecord.failed(
                index, stored, "malformed_warc_header", "WARC header runs into the next WARC/ line (no blank line)"
            )
        if end is None:
            too_long = len(src.buf) - src.pos >= MAX_HEADER_BYTES
            if too_long:
                self._resync()
                return RawRecord.failed(index, stored, "malformed_warc_header", "WARC header block is not terminated")
            src.pos = len(src.buf)
            return RawRecord.failed(index, stored, "truncated_record", "file ends inside a WARC header")
        header_stop, body_start = end
        header_bytes = bytes(src.buf[src.pos : header_stop])
        headers = _parse_headers(header_bytes)
        length_text = headers.get("content-length")
        try:
            length = int(length_text) if length_text is not None else -1
        except ValueError:
            length = -1
        if length < 0:
            src.pos += 1
            self._resync()
            return RawRecord.failed(
                index, stored, "malformed_warc_header", f"missing or invalid Content-Length {length_text!r}", headers
            )
        src.pos = body_start
        if length > self.max_record_bytes:
            if not self._discard(length):
                return RawRecord.failed(index, stored, "truncated_record", "file ends inside the record block", headers)
            if not self._trailer_ok():
                self._resync()
                return RawRecord.failed(
                    index,
                    stored,
                    "bad_content_length",
                    f"Content-Length {length} does not match the record block",
                    headers,
                )
            return RawRecord.failed(
                index,
                stored,
                "record_too_large",
                f"record block of {length} bytes exceeds the cap of {self.max_record_bytes} bytes",
                headers,
            )
        if not src.ensure(length):
            src.pos = len(src.buf)
            return RawRecord.failed(
                index,
                stored,
                "truncated_record",
                f"file ends inside the record block (Content-Length {length})",
                headers,
            )
        block = bytes(src.buf[src.pos : src.pos + length])
        block_start = src.pos
        src.pos += length
        if not self._trailer_ok():
            src.pos = block_start
            self._resync()
            return RawRecord.failed(
                index, stored, "bad_content_length", f"Content-Length {length} does not match the record block", headers
            )
        return RawRecord(index, stored, headers, header_bytes, block)

    def _header_end(self) -> tuple[int, int] | None:
        """(end of the header lines, start of the block), or ``None`` when the header is not terminated."""
        src = self.src
        start = src.offset
        clean_from, clean_to = self._no_header_end
        search = clean_to - src.base if clean_from <= start < clean_to else src.pos
        while True:
            limit = src.pos + MAX_HEADER_BYTES
            crlf = src.buf.find(b"\r\n\r\n", search, limit)
            # a bare-LF header (non-standard) ends earlier; look only before the CRLF end, never into the block
            lf = src.buf.find(b"\n\n", search, crlf + 2 if crlf >= 0 else limit)
            if lf >= 0 and (crlf < 0 or lf < crlf):
                self._no_header_end = (start, src.base + lf)
                return lf, lf + 2
            if crlf >= 0:
                self._no_header_end = (start, src.base + crlf)
                return crlf, crlf + 4
            searched_to = max(search, min(limit, len(src.buf)) - 3)
            self._no_header_end = (start, src.base + searched_to)
            if len(src.buf) - src.pos >= MAX_HEADER_BYTES:
                return None
            search = max(src.pos, len(src.buf) - 3)
            if not src.fill():
                return None

    def _discard(self, length: int) -> bool:
        src = self.src
        while length > 0:
            available = len(src.buf) - src.pos
            if available == 0 and not src.fill():
                return False
            take = min(length, len(src.buf) - src.pos)
            src.pos += take
            length -= take
        return True

    def _trailer_ok(self) -> bool:
        """Does the block end where Content-Length says?

        Yes when the standard record separator (CRLF CRLF) follows it, or blank lines and then the next
        ``WARC/`` line or the end of the stream. (With the standard separator the length is right even when the
        next record's header is malformed; that record is then reported on its own.)
        """
        src = self.src
        if src.ensure(4) and src.buf.startswith(b"\r\n\r\n", src.pos):
            src.pos += 4
            return True
        while True:
            buf = src.buf
            n = len(buf)
            while src.pos < n and buf[src.pos] in _WS:
                src.pos += 1
            if src.pos < n:
                if not src.ensure(5):
                    return False
                return src.buf.startswith(b"WARC/", src.pos)
            try:
                more = src.fill()
            except _Truncated:
                return True
            if not more:
                return True


def _parse_headers(header_bytes: bytes) -> dict[str, str]:
    """WARC header fields (lower-cased names; the first occurrence wins). The version line is skipped."""
    text = header_bytes.decode("utf-8", errors="replace")
    if "\n " in text or "\n\t" in text:  # folded (continuation) lines: join them first
        text = re.sub(r"\r?\n[ \t]+", " ", text)
    headers: dict[str, str] = {}
    for line in text.split("\n")[1:]:
        name, sep, value = line.partition(":")
        if sep:
            key = name.strip().lower()
            if key not in headers:
                headers[key] = value.strip()
    return headers
