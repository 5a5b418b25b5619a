"""WARC and WET files: ``response`` records with HTML payloads and ``conversion`` records become documents.

Every other record (warcinfo, request, metadata, revisit, resource, non-HTML responses, non-2xx responses) is
a counted, quiet skip. Only payloads reach the text stages: WARC and HTTP headers (and the ``robots:`` lines of
Common Crawl's warcinfo records) never do.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Literal

from fastwarc.warc import ArchiveIterator, WarcRecord

from scanner.data import Document
from scanner.errors import RecordError
from scanner.extract.html import decode_html, extract_text, looks_like_html
from scanner.readers.base import Reader, RecordContext, decode_text
from scanner.readers.stream import InputStream
from scanner.readers.warcframe import RawRecord, WarcFramer

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_QUIET_TYPES = frozenset({"warcinfo", "request", "metadata", "revisit", "resource", "continuation"})
# skips by design, counted but not logged one by one (damage is always logged)
_QUIET_REASONS = frozenset({f"warc_{t}" for t in _QUIET_TYPES} | {"non_html", "http_not_ok", "empty_text"})


class WarcReader(Reader):
    """WARC (``response`` records, HTML extracted with resiliparse) and WET (``conversion`` records)."""

    name = "warc"

    def read_file(self, stream: InputStream, ctx: RecordContext) -> Iterator[Document]:
        framer = WarcFramer(stream, head=stream.head, max_record_bytes=self.config.max_record_bytes)  # type: ignore[arg-type]
        for raw in framer:
            yield self._document(raw, ctx)

    def _document(self, raw: RawRecord, ctx: RecordContext) -> Document:
        h = raw.headers
        url = h.get("warc-target-uri") or None
        date = h.get("warc-date") or None
        rid = h.get("warc-record-id") or None
        wtype = h.get("warc-type", "").lower()
        fmt = {"conversion": "wet", "response": "warc"}.get(wtype, ctx.format)
        try:
            text, warnings = self._text(raw, wtype, ctx)
        except RecordError as err:
            return ctx.skip(
                raw.index,
                raw.offset,
                err.reason,
                err.message,
                fmt=fmt,
                record_id=rid,
                url=url,
                crawl_date=date,
                quiet=err.reason in _QUIET_REASONS,
            )
        return ctx.document(
            raw.index,
            raw.offset,
            text=text,
            fmt=fmt,
            record_id=rid,
            url=url,
            crawl_date=date,
            language=h.get("warc-identified-content-language"),
            warnings=warnings,
        )

    def _text(self, raw: RawRecord, wtype: str, ctx: RecordContext) -> tuple[str, list[str]]:
        """The record's text and warnings; a :class:`RecordError` for every record that is skipped."""
        if raw.error is not None:
            raise raw.error
        assert raw.block is not None
        if wtype == "conversion":
            text, warnings = decode_text(raw.block, ctx, raw.index)
            if not text.strip():
                raise RecordError("empty_text", "conversion record has no text")
            return text, warnings
        if wtype != "response":
            reason = f"warc_{wtype}" if wtype in _QUIET_TYPES else "warc_unknown_type"
            raise RecordError(reason, f"WARC-Type {wtype or '(missing)'} holds no page text")
        return self._response_text(raw)

    def _response_text(self, raw: RawRecord) -> tuple[str, list[str]]:
        assert raw.block is not None
        wct = raw.headers.get("content-type", "application/http").lower()
        if not wct.startswith("application/http"):
            raise RecordError("non_html", f"response record of type {wct} (not HTTP)")
        rec, payload, warnings = _http_payload(raw)
        status = rec.http_headers.status_code
        if status is None:
            raise RecordError("malformed_http", "HTTP status line cannot be parsed")
        if not 200 <= status < 300:
            raise RecordError("http_not_ok", f"HTTP status {status}")
        if not payload.strip():
            raise RecordError("empty_text", "empty HTTP payload")
        ctype = (rec.http_content_type or "").lower()
        identified = raw.headers.get("warc-identified-payload-type", "").lower()
        if ctype in HTML_TYPES or identified in HTML_TYPES:
            pass
        elif (ctype and ctype not in ("application/octet-stream", "text/plain")) or not looks_like_html(payload):
            raise RecordError("non_html", f"payload is {ctype or identified or 'not HTML'}")
        html, decode_warnings = decode_html(payload, rec.http_charset)
        text = extract_text(html, main_content=self.config.html_main_content)
        if not text.strip():
            raise RecordError("empty_text", "no text left after HTML extraction")
        return text, warnings + decode_warnings


def _http_payload(raw: RawRecord) -> tuple[WarcRecord, bytes, list[str]]:
    """The HTTP record and its payload, de-chunked and decompressed where that works.

    Some crawls store payloads already decompressed while keeping the ``Content-Encoding`` header; when
    decoding fails the payload is taken as stored (with a warning) rather than the record lost.
    """
    assert raw.block is not None
    record_bytes = raw.header_bytes.rstrip(b"\r\n") + b"\r\n\r\n" + raw.block + b"\r\n\r\n"
    last_error: Exception | None = None
    modes: tuple[tuple[Literal["all", "transfer", "none"], list[str]], ...] = (
        ("all", []),
        ("transfer", ["content_encoding_ignored"]),
        ("none", ["transfer_encoding_ignored"]),
    )
    for mode, warnings in modes:
        try:
            rec = next(iter(ArchiveIterator(io.BytesIO(record_bytes), parse_http=True, auto_decode=mode)))
            payload = rec.reader.read()
        except (OSError, StopIteration, ValueError) as exc:
            last_error = exc
            continue
        if not rec.is_http_parsed or rec.http_headers is None:
            raise RecordError("malformed_http", "response record has no parsable HTTP header")
        return rec, payload, warnings
    raise RecordError("malformed_http", f"HTTP response cannot be parsed ({last_error})")
