"""Shared fixtures: small, valid inputs of every format tropescan reads, built in ``tmp_path``.

Every builder returns bytes (or writes a file and returns its path) so that tests can damage the bytes
programmatically before writing them. Nothing here reads ``../shared``.
"""

from __future__ import annotations

import gzip
import io
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scanner.config import ReaderConfig, ScanConfig, SegmentConfig
from scanner.pipeline import ScanResult, scan

# --------------------------------------------------------------------------------------------------------------
# WARC building blocks
# --------------------------------------------------------------------------------------------------------------

WARC_DATE = "2024-02-20T12:00:00Z"


def _record_id(seed: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, seed)}>"


def warc_record(
    warc_type: str,
    block: bytes,
    *,
    headers: dict[str, str] | None = None,
    content_length: int | None = None,
    version_line: bytes = b"WARC/1.0",
    seed: str | None = None,
) -> bytes:
    """One WARC record: version line, header fields (CRLF), CRLF, block, CRLF CRLF.

    ``content_length`` overrides the (otherwise exact) Content-Length header, to build damaged records.
    """
    fields: dict[str, str] = {
        "WARC-Type": warc_type,
        "WARC-Date": WARC_DATE,
        "WARC-Record-ID": _record_id(seed or f"{warc_type}:{block[:64]!r}:{len(block)}"),
    }
    fields.update(headers or {})
    fields["Content-Length"] = str(len(block) if content_length is None else content_length)
    head = version_line + b"\r\n" + b"".join(f"{k}: {v}\r\n".encode() for k, v in fields.items())
    return head + b"\r\n" + block + b"\r\n\r\n"


def gzip_member(data: bytes) -> bytes:
    """One gzip member (deterministic: mtime 0, no file name)."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
        gz.write(data)
    return buf.getvalue()


def gzip_per_record(records: Iterable[bytes]) -> bytes:
    return b"".join(gzip_member(r) for r in records)


def warcinfo_record(
    filename: str = "CC-MAIN-20240220-00000.warc.gz", robots: str = "checked via crawler-commons"
) -> bytes:
    block = (
        "isPartOf: CC-MAIN-2024-10\r\n"
        "publisher: Common Crawl\r\n"
        "description: Wide crawl of the web for February 2024\r\n"
        "operator: Common Crawl Admin (info@commoncrawl.org)\r\n"
        "hostname: ip-10-67-67-67.ec2.internal\r\n"
        "software: Apache Nutch 1.19 (modified, https://github.com/commoncrawl/nutch/)\r\n"
        f"robots: {robots}\r\n"
        "format: WARC File Format 1.1\r\n"
        "conformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n"
    ).encode()
    return warc_record(
        "warcinfo",
        block,
        headers={"WARC-Filename": filename, "Content-Type": "application/warc-fields"},
        seed=f"warcinfo:{filename}:{robots}",
    )


def html_page(title: str, paragraphs: Sequence[str]) -> bytes:
    body = "".join(f"<p>{p}</p>\n" for p in paragraphs)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>'
        f"{title}</title></head>\n<body><article>\n<h1>{title}</h1>\n{body}</article></body></html>\n"
    ).encode()


def http_response(payload: bytes, content_type: str = "text/html; charset=utf-8", status: str = "200 OK") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(payload)}\r\nServer: test\r\n\r\n"
    ).encode() + payload


def request_record(url: str) -> bytes:
    host = url.split("/")[2]
    block = f"GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: CCBot/2.0\r\nAccept: text/html\r\n\r\n".encode()
    return warc_record(
        "request",
        block,
        headers={"WARC-Target-URI": url, "Content-Type": "application/http; msgtype=request"},
        seed=f"request:{url}",
    )


def response_record(url: str, html: bytes, *, content_length: int | None = None) -> bytes:
    return warc_record(
        "response",
        http_response(html),
        headers={
            "WARC-Target-URI": url,
            "Content-Type": "application/http; msgtype=response",
            "WARC-Identified-Payload-Type": "text/html",
        },
        content_length=content_length,
        seed=f"response:{url}",
    )


def metadata_record(url: str) -> bytes:
    block = b'fetchTimeMs: 123\r\ncharset-detected: UTF-8\r\nlanguages-cld2: {"languages":[]}\r\n'
    return warc_record(
        "metadata",
        block,
        headers={"WARC-Target-URI": url, "Content-Type": "application/warc-fields"},
        seed=f"metadata:{url}",
    )


def conversion_record(url: str, text: bytes, *, content_length: int | None = None) -> bytes:
    return warc_record(
        "conversion",
        text,
        headers={
            "WARC-Target-URI": url,
            "Content-Type": "text/plain",
            "WARC-Identified-Content-Language": "eng",
        },
        content_length=content_length,
        seed=f"conversion:{url}",
    )


def page_sentences(n: int, tag: str) -> list[str]:
    """Distinct, long-enough paragraphs (main-content extraction drops very short blocks)."""
    return [
        f"Paragraph {i} of the {tag} page explains, in several plain sentences, how the machine was built. "
        f"It was carefully tested by the engineers of {tag} before anyone was allowed to use it at home. "
        "Nobody expected the results that followed, and the report says so at length."
        for i in range(n)
    ]


def page_url(i: int) -> str:
    return f"https://site{i}.example.com/articles/{i}.html"


def cc_capture(i: int) -> list[bytes]:
    """request + response + metadata for capture ``i`` (as Common Crawl writes them)."""
    url = page_url(i)
    return [
        request_record(url),
        response_record(url, html_page(f"Page {i}", page_sentences(3, f"site{i}"))),
        metadata_record(url),
    ]


def cc_warc_records(n_pages: int = 2, robots: str = "checked via crawler-commons") -> list[bytes]:
    records = [warcinfo_record(robots=robots)]
    for i in range(n_pages):
        records.extend(cc_capture(i))
    return records


def wet_text(i: int) -> bytes:
    return (
        f"Title of page {i}\n"
        f"This is the plain text of page {i}, as Common Crawl's WET files hold it after conversion.\n"
        "A second line follows with more words about robots and people and their quarrels.\n"
    ).encode()


def wet_records(n: int = 3) -> list[bytes]:
    info = warc_record(
        "warcinfo",
        b"Software-Info: ia-web-commons.1.1.10-SNAPSHOT-20231204\r\nExtracted-Date: Tue, 20 Feb 2024\r\n"
        b"robots: checked via crawler-commons\r\nformat: WARC File Format 1.0\r\n",
        headers={"WARC-Filename": "CC-MAIN-20240220-00000.warc.wet.gz", "Content-Type": "application/warc-fields"},
        seed="wet-warcinfo",
    )
    return [info] + [conversion_record(page_url(i), wet_text(i)) for i in range(n)]


# --------------------------------------------------------------------------------------------------------------
# JSONL / Parquet / Gutenberg
# --------------------------------------------------------------------------------------------------------------


def c4_rows(n: int = 3) -> list[dict[str, Any]]:
    return [
        {
            "text": f"Document {i}. The robot in this story helps the village with the harvest, and it is kind.",
            "url": f"https://www.news{i}.example.co.uk/story/{i}",
            "timestamp": f"2019-04-2{i}T12:00:00Z",
        }
        for i in range(n)
    ]


def jsonl_bytes(rows: Iterable[Any]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)


def zstd_compress(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(level=3).compress(data)


def write_parquet(
    path: Path, rows: list[dict[str, Any]], *, row_group_size: int | None = None, schema: pa.Schema | None = None
) -> Path:
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


GUTENBERG_BODY = (
    "CHAPTER I.\r\n\r\n"
    "The automaton stood in the corner of the workshop for many years, and nobody spoke to it.\r\n"
    "One winter evening it began to speak, slowly, about the stars and the river.\r\n\r\n"
    "CHAPTER II.\r\n\r\n"
    "The clockmaker listened, and wrote down everything it said in a small brown book.\r\n"
)


def gutenberg_bytes(title: str = "The Clockwork Friend", author: str = "Jane Example") -> bytes:
    text = (
        "\ufeffThe Project Gutenberg eBook of " + title + "\r\n\r\n"
        "This ebook is for the use of anyone anywhere in the United States and most other parts of the world "
        "at no cost and with almost no restrictions whatsoever.\r\n\r\n"
        f"Title: {title}\r\n\r\n"
        f"Author: {author}\r\n\r\n"
        "Release date: January 1, 2001 [eBook #99999]\r\n\r\n"
        "Language: English\r\n\r\n"
        "Character set encoding: UTF-8\r\n\r\n"
        f"*** START OF THE PROJECT GUTENBERG EBOOK {title.upper()} ***\r\n\r\n\r\n" + GUTENBERG_BODY + "\r\n\r\n"
        f"*** END OF THE PROJECT GUTENBERG EBOOK {title.upper()} ***\r\n\r\n"
        "Updated editions will replace the previous one--the old editions will be renamed.\r\n\r\n"
        "START: FULL LICENSE\r\n\r\n"
        "THE FULL PROJECT GUTENBERG LICENSE\r\n"
        "PLEASE READ THIS BEFORE YOU DISTRIBUTE OR USE THIS WORK\r\n"
        "Project Gutenberg is a registered trademark of the Project Gutenberg Literary Archive Foundation.\r\n"
    )
    return text.encode("utf-8")


# --------------------------------------------------------------------------------------------------------------
# Fixtures writing those inputs
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture
def cc_warc_gz(tmp_path: Path) -> Path:
    """CC-style per-record-gzip WARC: warcinfo + 2 x (request, response(HTML), metadata) = 7 records, 2 docs."""
    path = tmp_path / "in" / "CC-MAIN-20240220-00000.warc.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip_per_record(cc_warc_records(2)))
    return path


@pytest.fixture
def cc_warc_plain(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "CC-MAIN-20240220-00000.warc"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(cc_warc_records(2)))
    return path


@pytest.fixture
def wet_gz(tmp_path: Path) -> Path:
    """WET: warcinfo + 3 conversion records (per-record gzip)."""
    path = tmp_path / "in" / "CC-MAIN-20240220-00000.warc.wet.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip_per_record(wet_records(3)))
    return path


@pytest.fixture
def jsonl_file(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "c4-train.00000-of-01024.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jsonl_bytes(c4_rows(3)))
    return path


@pytest.fixture
def jsonl_gz(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "c4-train.00000-of-01024.jsonl.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip_member(jsonl_bytes(c4_rows(3))))
    return path


@pytest.fixture
def jsonl_zst(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "shard-0000.jsonl.zst"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zstd_compress(jsonl_bytes(c4_rows(3))))
    return path


@pytest.fixture
def parquet_file(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "train-00000-of-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "id": f"doc-{i}",
            "text": f"Row {i}: a story about a helpful robot and a lighthouse keeper.",
            "metadata": {"url": f"https://blog{i}.example.org/p/{i}"},
        }
        for i in range(5)
    ]
    return write_parquet(path, rows, row_group_size=2)


@pytest.fixture
def gutenberg_txt(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "pg99999.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gutenberg_bytes())
    return path


# --------------------------------------------------------------------------------------------------------------
# Running scans and checking their accounting
# --------------------------------------------------------------------------------------------------------------


def run_scan(paths: Sequence[str | Path] | str | Path, out: str | Path, **config: Any) -> ScanResult:
    """``scanner.pipeline.scan`` over ``paths`` into ``out``; keyword arguments go to ``ScanConfig.build``.

    ``reader=`` and ``segment=`` may be given as dicts or as ``ReaderConfig`` / ``SegmentConfig``.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    for key, cls in (("reader", ReaderConfig), ("segment", SegmentConfig)):
        if isinstance(config.get(key), dict):
            config[key] = cls(**config[key])
    cfg = ScanConfig.build(inputs=[str(p) for p in paths], out=str(out), **config)
    return scan(cfg)


def read_docs(out: str | Path) -> pa.Table:
    """Every row of ``out/docs/*.parquet``, in shard-name order."""
    files = sorted((Path(out) / "docs").glob("*.parquet"))
    tables = [pq.read_table(f) for f in files]
    if not tables:
        from scanner.store.schema import DOCS_SCHEMA

        return DOCS_SCHEMA.empty_table()
    return pa.concat_tables(tables)


def assert_counts_balance(result: ScanResult) -> dict[str, Any]:
    """``records_read + records_skipped == records_total`` overall and per input, and the docs store holds
    exactly ``records_total`` rows. Returns the manifest counts."""
    counts = result.manifest["counts"]
    assert counts["records_read"] + counts["records_skipped"] == counts["records_total"], counts
    assert sum(counts["skipped_by_reason"].values()) == counts["records_skipped"], counts
    for entry in result.manifest["inputs"]:
        assert entry["records_read"] + entry["records_skipped"] == entry["records_total"], entry
        assert sum(entry["skipped_by_reason"].values()) == entry["records_skipped"], entry
    for stats in result.files:
        assert stats.records_read + stats.records_skipped == stats.records_total, stats
    assert sum(e["records_total"] for e in result.manifest["inputs"]) == counts["records_total"]
    docs = read_docs(result.out)
    assert docs.num_rows == counts["records_total"], (docs.num_rows, counts)
    skipped_rows = sum(1 for r in docs.column("skip_reason").to_pylist() if r is not None)
    assert skipped_rows == counts["records_skipped"]
    return counts


@pytest.fixture
def scan_into(tmp_path: Path) -> Callable[..., ScanResult]:
    """``scan_into(paths, **config)``: run a scan into a fresh ``tmp_path/out-N`` directory."""
    counter = iter(range(1_000_000))

    def _scan(paths: Any, **config: Any) -> ScanResult:
        return run_scan(paths, tmp_path / f"out-{next(counter)}", **config)

    return _scan


def docs_of(paths: Sequence[str | Path] | str | Path, **config: Any) -> list[Any]:
    """Documents (with text) streamed by ``scanner.pipeline.iter_documents``; nothing is written."""
    from scanner.pipeline import iter_documents

    if isinstance(paths, str | Path):
        paths = [paths]
    for key, cls in (("reader", ReaderConfig), ("segment", SegmentConfig)):
        if isinstance(config.get(key), dict):
            config[key] = cls(**config[key])
    cfg = ScanConfig.build(inputs=[str(p) for p in paths], out="unused", **config)
    return list(iter_documents(cfg))
