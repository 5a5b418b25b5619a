"""Streaming readers, one module per format. :func:`reader_for` picks the class for a detected format."""

from __future__ import annotations

from scanner.config import ReaderConfig
from scanner.readers.base import Reader


def reader_for(fmt: str, config: ReaderConfig) -> Reader:
    if fmt in ("warc", "wet"):
        from scanner.readers.warc import WarcReader

        return WarcReader(config)
    if fmt == "jsonl":
        from scanner.readers.jsonl import JsonlReader

        return JsonlReader(config)
    if fmt == "parquet":
        from scanner.readers.parquet import ParquetReader

        return ParquetReader(config)
    if fmt == "text":
        from scanner.readers.text import TextReader

        return TextReader(config)
    raise ValueError(f"no reader for format {fmt!r}")


__all__ = ["Reader", "reader_for"]
