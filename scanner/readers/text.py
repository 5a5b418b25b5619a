"""Plain-text books: one file, one record. Project Gutenberg header and licence are stripped.

The title and author come from the Gutenberg header (``Title:`` / ``Author:``); a BOM and Windows line endings
are removed, so offsets index the clean body. Text that is not valid UTF-8 is decoded with the charset the
Gutenberg header declares (e.g. ISO-8859-1), else with replacement characters (and a warning).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from scanner.data import Document
from scanner.readers.base import Reader, RecordContext
from scanner.readers.compression import CorruptStream, compression_of, damage_reason, open_decompressed
from scanner.readers.stream import InputStream

_START = re.compile(r"^\*{3}\s*START OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK.*$", re.IGNORECASE | re.MULTILINE)
_END = re.compile(
    r"^(?:\*{3}\s*END OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK.*"
    r"|End of (?:the )?Project Gutenberg'?s? .*"
    r"|\*{3}\s*START: FULL LICENSE.*)$",
    re.IGNORECASE | re.MULTILINE,
)
_FIELD = re.compile(
    r"^(Title|Author|Language|Character set encoding):[ \t]*(.*(?:\n[ \t]+\S.*)*)$",
    re.IGNORECASE | re.MULTILINE,
)


class TextReader(Reader):
    name = "text"

    def read_file(self, stream: InputStream, ctx: RecordContext) -> Iterator[Document]:
        cap = self.config.max_record_bytes
        kind = compression_of(stream.head)
        with open_decompressed(stream, stream.head) as body:  # type: ignore[arg-type]
            try:
                data = body.read(cap + 1)  # a buffered stream: returns cap + 1 bytes unless the file is shorter
            except (EOFError, CorruptStream, OSError) as exc:
                yield ctx.skip(0, 0, damage_reason(exc, kind), f"cannot decompress the file ({exc})")
                return
        if len(data) > cap:
            yield ctx.skip(0, 0, "record_too_large", f"file exceeds the cap of {cap} bytes")
            return
        yield self.book(data, ctx)

    def book(self, data: bytes, ctx: RecordContext) -> Document:
        raw, warnings = _decode(data)
        text = raw.replace("\r\n", "\n").replace("\r", "\n")
        fields: dict[str, str] = {}
        start_match = _START.search(text)
        if start_match:
            for m in _FIELD.finditer(text, 0, start_match.start()):
                fields.setdefault(m.group(1).lower(), " ".join(m.group(2).split()))
            end_match = _END.search(text, start_match.end())
            body = text[start_match.end() : end_match.start() if end_match else len(text)]
        else:
            body = text
        body = body.strip()
        if not body:
            return ctx.skip(0, 0, "empty_text", "no text after stripping the Gutenberg header and licence")
        return ctx.document(
            0,
            0,
            text=body,
            title=fields.get("title") or None,
            author=fields.get("author") or None,
            language=fields.get("language") or None,
            warnings=warnings,
        )


_CHARSET = re.compile(rb"Character set encoding:[ \t]*([A-Za-z0-9_.:-]+)", re.IGNORECASE)


def _decode(data: bytes) -> tuple[str, list[str]]:
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    declared = _CHARSET.search(data[:20000])
    if declared:
        try:
            return data.decode(declared.group(1).decode("ascii")), []
        except (LookupError, UnicodeDecodeError):
            pass
    return data.decode("utf-8-sig", errors="replace"), ["non_utf8_replaced"]
