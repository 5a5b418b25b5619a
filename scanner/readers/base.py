"""What every reader shares: the per-file record context and the reader interface.

A reader implements only :meth:`Reader.read_file`: given one opened input, yield one :class:`Document` per
record, in order, skipped records included (built with :meth:`RecordContext.skip`, which also logs one line
naming the file and the record). Opening, hashing, format detection and counting live in the pipeline.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import ClassVar

from scanner.config import ReaderConfig
from scanner.data import Document
from scanner.provenance import make_doc_id, registered_domain
from scanner.readers.inputs import InputFile
from scanner.readers.stream import InputStream

log = logging.getLogger("scanner.readers")


class RecordContext:
    """Builds the documents of one input file, with its provenance filled in."""

    def __init__(self, file: InputFile, fmt: str) -> None:
        self.file = file
        self.format = fmt

    def where(self, index: int, line: int | None = None) -> str:
        return f"{self.file.source}: line {line}" if line is not None else f"{self.file.source}: record {index}"

    def document(
        self,
        index: int,
        offset: int | None,
        *,
        text: str,
        fmt: str | None = None,
        line: int | None = None,
        record_id: str | None = None,
        url: str | None = None,
        crawl_date: str | None = None,
        title: str | None = None,
        author: str | None = None,
        language: str | None = None,
        host: str | None = None,
        warnings: list[str] | None = None,
    ) -> Document:
        """A read record. ``host`` is a fallback for the domain when the record has no URL."""
        return Document(
            doc_id=make_doc_id(self.file.key, index),
            source_path=self.file.source,
            record_index=index,
            byte_offset=offset,
            shard=self.file.shard,
            dataset=self.file.dataset,
            format=fmt or self.format,
            text=text,
            line=line,
            record_id=record_id,
            url=url,
            domain=registered_domain(url or host),
            crawl_date=crawl_date,
            title=title,
            author=author,
            language=language,
            warnings=warnings or [],
        )

    def skip(
        self,
        index: int,
        offset: int | None,
        reason: str,
        detail: str,
        *,
        fmt: str | None = None,
        line: int | None = None,
        record_id: str | None = None,
        url: str | None = None,
        crawl_date: str | None = None,
        quiet: bool = False,
    ) -> Document:
        """A skipped record. ``quiet`` is for expected skips (request records, non-HTML payloads), which are
        counted but not logged one by one; damage is always logged."""
        if not quiet:
            log.warning("%s: skipped (%s): %s", self.where(index, line), reason, detail)
        doc = self.document(
            index, offset, text="", fmt=fmt, line=line, record_id=record_id, url=url, crawl_date=crawl_date
        )
        doc.skip_reason = reason
        doc.skip_detail = detail
        return doc


class Reader(ABC):
    """Reads one format. Subclasses set ``name`` and implement :meth:`read_file`."""

    name: ClassVar[str]

    def __init__(self, config: ReaderConfig) -> None:
        self.config = config

    @abstractmethod
    def read_file(self, stream: InputStream, ctx: RecordContext) -> Iterator[Document]:
        """Yield one document per record of ``stream``, skipped records included."""


def decode_text(data: bytes, ctx: RecordContext, index: int, line: int | None = None) -> tuple[str, list[str]]:
    """UTF-8 decode with replacement; a record that needed replacement carries a ``non_utf8`` warning."""
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        log.warning("%s: invalid UTF-8 bytes replaced with U+FFFD", ctx.where(index, line))
        return data.decode("utf-8", errors="replace"), ["non_utf8_replaced"]
