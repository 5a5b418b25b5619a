"""JSON Lines (plain, gzip, zstd): one record per non-empty line, in C4, Dolma/CCNet or a configured layout."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, BinaryIO

from scanner.data import Document
from scanner.readers.base import Reader, RecordContext, decode_text
from scanner.readers.compression import CorruptStream, compression_of, damage_reason, open_decompressed
from scanner.readers.fields import record_document
from scanner.readers.stream import InputStream

log = logging.getLogger("scanner.readers")


class JsonlReader(Reader):
    name = "jsonl"

    def read_file(self, stream: InputStream, ctx: RecordContext) -> Iterator[Document]:
        kind = compression_of(stream.head)
        state = _LineState()
        with open_decompressed(stream, stream.head) as text_stream:  # type: ignore[arg-type]
            try:
                for line_no, offset, data, length in _lines(text_stream, self.config.max_record_bytes, state):
                    if data is None:
                        yield ctx.skip(
                            state.records,
                            offset,
                            "record_too_large",
                            f"line of {length} bytes exceeds the cap of {self.config.max_record_bytes} bytes",
                            line=line_no,
                        )
                    else:
                        yield self._record(data, ctx, state.records, offset, line_no)
                    state.records += 1
            except (EOFError, CorruptStream, OSError) as exc:
                lost = "ends early" if isinstance(exc, EOFError) else "cannot be decompressed past this point"
                yield ctx.skip(
                    state.records,
                    state.offset,
                    damage_reason(exc, kind),
                    f"compressed stream {lost} ({exc}); the rest of the file is lost",
                    line=state.line + 1,
                )

    def _record(self, data: bytes, ctx: RecordContext, index: int, offset: int, line: int) -> Document:
        text_line, warnings = decode_text(data, ctx, index, line)
        try:
            # a UTF-8 byte-order mark (Windows tools write one; concatenated files carry one per part) is no JSON
            record: Any = json.loads(text_line.removeprefix("\ufeff"))
        except json.JSONDecodeError as exc:
            return ctx.skip(index, offset, "invalid_json", f"invalid JSON ({exc.msg} at column {exc.colno})", line=line)
        if not isinstance(record, dict):
            return ctx.skip(index, offset, "invalid_json", f"a JSON {type(record).__name__}, not an object", line=line)
        return record_document(record, ctx, self.config, index, offset, line=line, warnings=warnings)


class _LineState:
    __slots__ = ("line", "offset", "records")

    def __init__(self) -> None:
        self.line = 0  # last line number handed out (1-based)
        self.offset = 0  # decompressed offset of the next line
        self.records = 0


def _lines(stream: BinaryIO, cap: int, state: _LineState) -> Iterator[tuple[int, int, bytes | None, int]]:
    """(line number, offset, bytes, length) of each non-empty line; a line over ``cap`` is not held (bytes None)."""
    while True:
        start = state.offset
        data = stream.readline(cap + 1)
        if not data:
            return
        state.line += 1
        state.offset += len(data)
        if len(data) > cap and not data.endswith(b"\n"):
            length = len(data)
            while True:  # stream past the rest of the over-long line
                more = stream.readline(1 << 20)
                state.offset += len(more)
                length += len(more)
                if not more or more.endswith(b"\n"):
                    break
            yield state.line, start, None, length
            continue
        if data.strip():
            yield state.line, start, data, len(data)
