"""Which reader reads a file: from its content where that is unambiguous, else from its name."""

from __future__ import annotations

import re

from scanner.errors import ShardError
from scanner.readers.compression import decompressed_head

_WAT_FILENAME = re.compile(rb"WARC-Filename:[^\r\n]*\.wat(?:\.gz)?\s", re.IGNORECASE)
_WARC_TYPE = re.compile(rb"^WARC-Type:[ \t]*([A-Za-z]+)", re.IGNORECASE | re.MULTILINE)
_NAME_FORMATS = (
    ((".wat",), "wat"),
    ((".wet",), "wet"),
    ((".warc", ".arc"), "warc"),
    ((".jsonl", ".json", ".ndjson"), "jsonl"),
    ((".parquet", ".pq"), "parquet"),
    ((".txt", ".text"), "text"),
)
WAT_MESSAGE = (
    "is a WAT file (JSON metadata about WARC records, no page text): WAT is not scanned; "
    "scan the matching WARC or WET file instead"
)


def format_from_name(name: str) -> str | None:
    lowered = name.lower()
    for suffix in (".gz", ".zst", ".zstd"):
        if lowered.endswith(suffix):
            lowered = lowered[: -len(suffix)]
            break
    for suffixes, fmt in _NAME_FORMATS:
        if lowered.endswith(suffixes):
            return fmt
    return None


def detect_format(source: str, head: bytes, override: str = "auto") -> str:
    """One of ``warc``, ``wet``, ``jsonl``, ``parquet``, ``text``; a WAT file raises :class:`ShardError`."""
    content = decompressed_head(head)
    by_name = format_from_name(source.rsplit("/", 1)[-1])
    warc_family = content.lstrip().startswith(b"WARC/") or by_name in ("wat", "wet", "warc")
    if warc_family and (by_name == "wat" or _is_wat(content)):
        raise ShardError(source, "wat_refused", WAT_MESSAGE)
    if override != "auto":
        return override
    if head.startswith(b"PAR1"):
        return "parquet"
    if content.lstrip().startswith(b"WARC/"):
        types = [t.decode("ascii").lower() for t in _WARC_TYPE.findall(content)]
        return "wet" if by_name == "wet" or "conversion" in types else "warc"
    if by_name is not None:
        return by_name
    if content.lstrip().startswith((b"{", b"[")):
        return "jsonl"
    if not head:
        return "text"
    if b"\x00" in content[:4096]:
        raise ShardError(source, "unrecognised_format", "binary content of no known format (use --format to name it)")
    return "text"


def _is_wat(content: bytes) -> bool:
    if _WAT_FILENAME.search(content):
        return True
    types = [t.decode("ascii").lower() for t in _WARC_TYPE.findall(content)]
    data_types = [t for t in types if t != "warcinfo"]
    return bool(data_types) and data_types[0] == "metadata" and b'"Envelope"' in content
