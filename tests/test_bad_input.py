"""Damaged inputs: every bad record is counted under its reason, logged, and its neighbours are still read.

Each damaged input is built from valid bytes (see conftest.py) and damaged programmatically.
"""

from __future__ import annotations

import json
import logging
import random
import re
from pathlib import Path

import pytest
from conftest import (
    assert_counts_balance,
    c4_rows,
    cc_warc_records,
    conversion_record,
    docs_of,
    gzip_member,
    gzip_per_record,
    html_page,
    http_response,
    jsonl_bytes,
    page_sentences,
    page_url,
    read_docs,
    response_record,
    run_scan,
    warc_record,
    warcinfo_record,
    wet_records,
    zstd_compress,
)

from scanner.config import ReaderConfig


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _pages(n: int) -> list[bytes]:
    """warcinfo + ``n`` response records (HTML), nothing else: records 1..n are documents."""
    return [warcinfo_record()] + [
        response_record(page_url(i), html_page(f"Page {i}", page_sentences(2, f"p{i}"))) for i in range(n)
    ]


def _skip_lines(caplog: pytest.LogCaptureFixture, reason: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and f"({reason})" in r.getMessage()]


def _rows(out: Path) -> list[dict]:
    return read_docs(out).to_pylist()


# ----------------------------------------------------------------------------------------------------------
# truncated gzip
# ----------------------------------------------------------------------------------------------------------


def test_truncated_warc_gz_member(tmp_path, out, caplog):
    members = [gzip_member(r) for r in cc_warc_records(2)]  # 7 records: info, req, resp, meta, req, resp, meta
    cut = sum(len(m) for m in members[:5]) + len(members[5]) // 2  # inside the member of record 5 (response)
    path = _write(tmp_path, "cut.warc.gz", b"".join(members)[:cut])
    result = run_scan([path], out)
    counts = assert_counts_balance(result)
    assert counts["records_total"] == 6
    assert counts["records_read"] == 1  # the response of record 2
    assert counts["skipped_by_reason"] == {
        "truncated_gzip": 1,
        "warc_warcinfo": 1,
        "warc_request": 2,
        "warc_metadata": 1,
    }
    rows = _rows(out)
    assert rows[5]["skip_reason"] == "truncated_gzip"
    assert rows[5]["record_index"] == 5
    assert rows[2]["skip_reason"] is None and rows[2]["n_chars"] > 0
    lines = _skip_lines(caplog, "truncated_gzip")
    assert len(lines) == 1
    assert str(path) in lines[0] and "record 5" in lines[0]
    assert result.exit_code == 0


def _truncated_jsonl_gz(tmp_path: Path) -> Path:
    """Five complete lines in a first gzip member, then a second member cut inside its first (long,
    incompressible) line: exactly lines 1-5 can be decompressed."""
    good = jsonl_bytes(c4_rows(5))
    rng = random.Random(7)
    long_text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 ") for _ in range(40_000))
    second = gzip_member(jsonl_bytes([{"text": long_text}, *c4_rows(3)]))
    return _write(tmp_path, "c4.jsonl.gz", gzip_member(good) + second[: len(second) // 2])


def test_truncated_jsonl_gz_is_counted(tmp_path, out, caplog):
    path = _truncated_jsonl_gz(tmp_path)
    result = run_scan([path], out)
    counts = assert_counts_balance(result)
    assert counts["skipped_by_reason"] == {"truncated_gzip": 1}
    rows = _rows(out)
    assert rows[-1]["skip_reason"] == "truncated_gzip"
    lines = _skip_lines(caplog, "truncated_gzip")
    assert len(lines) == 1
    assert str(path) in lines[0] and re.search(r": line \d+: ", lines[0])


def test_truncated_jsonl_gz_keeps_lines_before_the_cut(tmp_path, out, caplog):
    path = _truncated_jsonl_gz(tmp_path)
    result = run_scan([path], out)
    counts = assert_counts_balance(result)
    assert counts["records_read"] == 5
    assert counts["skipped_by_reason"] == {"truncated_gzip": 1}
    assert counts["records_total"] == 6
    rows = _rows(out)
    assert rows[-1]["line"] == 6
    assert any("line 6" in line for line in _skip_lines(caplog, "truncated_gzip"))


def _flip(data: bytes, at: int, n: int = 8) -> bytes:
    out = bytearray(data)
    for i in range(at, at + n):
        out[i] ^= 0xFF
    return bytes(out)


def test_corrupt_gzip_member_in_jsonl(tmp_path, out, caplog):
    first = gzip_member(jsonl_bytes(c4_rows(5)))
    second = gzip_member(jsonl_bytes(c4_rows(40)))
    path = _write(tmp_path, "corrupt.jsonl.gz", first + _flip(second, len(second) // 2))
    result = run_scan([path], out)
    counts = assert_counts_balance(result)
    assert result.files[0].status == "ok"
    assert counts["skipped_by_reason"] == {"corrupt_gzip": 1}
    assert counts["records_read"] >= 5  # every line of the intact first member
    lines = _skip_lines(caplog, "corrupt_gzip")
    assert len(lines) == 1 and str(path) in lines[0]
    assert result.exit_code == 0


def test_truncated_zstd_jsonl_mid_frame(tmp_path, out, caplog):
    # 5 lines in a first frame; a second frame cut inside its first (long, incompressible) line
    rng = random.Random(11)
    long_text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 ") for _ in range(40_000))
    second = zstd_compress(jsonl_bytes([{"text": long_text}, *c4_rows(3)]))
    path = _write(tmp_path, "cut.jsonl.zst", zstd_compress(jsonl_bytes(c4_rows(5))) + second[: len(second) // 2])
    result = run_scan([path], out)
    counts = assert_counts_balance(result)
    assert counts["records_read"] == 5
    assert counts["skipped_by_reason"] == {"truncated_zstd": 1}
    assert _rows(out)[-1]["line"] == 6
    lines = _skip_lines(caplog, "truncated_zstd")
    assert len(lines) == 1 and str(path) in lines[0] and "line 6" in lines[0]


def test_truncated_zstd_jsonl_at_frame_start(tmp_path, out):
    # the second frame keeps only its header: the loss must still be reported
    second = zstd_compress(jsonl_bytes(c4_rows(5)))
    path = _write(tmp_path, "cut.jsonl.zst", zstd_compress(jsonl_bytes(c4_rows(5))) + second[:20])
    counts = assert_counts_balance(run_scan([path], out))
    assert counts["records_read"] == 5
    assert counts["skipped_by_reason"] == {"truncated_zstd": 1}


def test_corrupt_zstd_jsonl(tmp_path, out, caplog):
    first = zstd_compress(jsonl_bytes(c4_rows(5)))
    second = zstd_compress(jsonl_bytes(c4_rows(40)))
    path = _write(tmp_path, "corrupt.jsonl.zst", first + _flip(second, len(second) // 2))
    result = run_scan([path], out)
    counts = assert_counts_balance(result)
    assert result.files[0].status == "ok"
    assert counts["skipped_by_reason"] == {"corrupt_zstd": 1}
    assert counts["records_read"] >= 5
    lines = _skip_lines(caplog, "corrupt_zstd")
    assert len(lines) == 1 and str(path) in lines[0]


# ----------------------------------------------------------------------------------------------------------
# malformed WARC header
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_malformed_warc_header_resyncs(tmp_path, out, caplog, gz):
    records = _pages(4)
    records[2] = records[2].replace(b"WARC/1.0\r\n", b"XQ#!garbage 1.0\r\n", 1)
    data = gzip_per_record(records) if gz else b"".join(records)
    path = _write(tmp_path, "bad-header.warc" + (".gz" if gz else ""), data)
    result = run_scan([path], out)
    counts = assert_counts_balance(result)
    assert counts["records_total"] == 5
    assert counts["records_read"] == 3  # records 1, 3, 4
    assert counts["skipped_by_reason"] == {"malformed_warc_header": 1, "warc_warcinfo": 1}
    rows = _rows(out)
    assert [r["skip_reason"] for r in rows] == ["warc_warcinfo", None, "malformed_warc_header", None, None]
    assert [r["url"] for r in rows if r["skip_reason"] is None] == [page_url(0), page_url(2), page_url(3)]
    lines = _skip_lines(caplog, "malformed_warc_header")
    assert len(lines) == 1 and str(path) in lines[0] and "record 2" in lines[0]


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_warc_header_running_into_the_next_record(tmp_path, out, caplog, gz):
    # record 2 lost the blank line ending its header, and its block: its header runs into record 3's
    records = _pages(4)
    records[2] = records[2].split(b"\r\n\r\n", 1)[0] + b"\r\n"
    data = (
        b"".join(records)
        if not gz
        else gzip_per_record(records[:2]) + gzip_member(records[2] + records[3]) + (gzip_per_record(records[4:]))
    )
    path = _write(tmp_path, "merged.warc" + (".gz" if gz else ""), data)
    counts = assert_counts_balance(run_scan([path], out))
    assert counts["records_total"] == 5
    assert counts["skipped_by_reason"] == {"malformed_warc_header": 1, "warc_warcinfo": 1}
    assert [r["url"] for r in _rows(out) if r["skip_reason"] is None] == [page_url(0), page_url(2), page_url(3)]
    lines = _skip_lines(caplog, "malformed_warc_header")
    assert len(lines) == 1 and "record 2" in lines[0] and "next WARC/ line" in lines[0]


# ----------------------------------------------------------------------------------------------------------
# wrong Content-Length
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("delta", [+10, -10, +400, -400], ids=["long10", "short10", "long400", "short400"])
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_bad_content_length(tmp_path, out, caplog, gz, delta):
    records = _pages(4)
    html = html_page("Page 1", page_sentences(2, "p1"))
    true_length = len(http_response(html))
    records[2] = response_record(page_url(1), html, content_length=true_length + delta)
    data = gzip_per_record(records) if gz else b"".join(records)
    path = _write(tmp_path, "bad-length.warc" + (".gz" if gz else ""), data)
    result = run_scan([path], out)
    counts = assert_counts_balance(result)
    assert counts["records_total"] == 5
    assert counts["records_read"] == 3
    assert counts["skipped_by_reason"] == {"bad_content_length": 1, "warc_warcinfo": 1}
    rows = _rows(out)
    assert rows[2]["skip_reason"] == "bad_content_length"
    assert rows[2]["url"] == page_url(1)
    assert [r["url"] for r in rows if r["skip_reason"] is None] == [page_url(0), page_url(2), page_url(3)]
    lines = _skip_lines(caplog, "bad_content_length")
    assert len(lines) == 1 and str(path) in lines[0] and "record 2" in lines[0]
    assert result.exit_code == 0


# ----------------------------------------------------------------------------------------------------------
# corrupt gzip member
# ----------------------------------------------------------------------------------------------------------


def test_corrupt_gzip_member(tmp_path, out, caplog):
    members = [gzip_member(r) for r in cc_warc_records(2)]
    bad = bytearray(members[2])  # the first response
    mid = len(bad) // 2
    for i in range(mid, mid + 8):
        bad[i] ^= 0xFF
    members[2] = bytes(bad)
    path = _write(tmp_path, "corrupt.warc.gz", b"".join(members))
    result = run_scan([path], out)
    counts = assert_counts_balance(result)
    assert counts["records_total"] == 7
    assert counts["records_read"] == 1  # the second response
    assert counts["skipped_by_reason"] == {
        "corrupt_gzip": 1,
        "warc_warcinfo": 1,
        "warc_request": 2,
        "warc_metadata": 2,
    }
    rows = _rows(out)
    assert rows[2]["skip_reason"] == "corrupt_gzip"
    assert rows[2]["byte_offset"] == sum(len(m) for m in members[:2])
    assert rows[5]["skip_reason"] is None and rows[5]["url"] == page_url(1)
    lines = _skip_lines(caplog, "corrupt_gzip")
    assert len(lines) == 1 and str(path) in lines[0] and "record 2" in lines[0]


# ----------------------------------------------------------------------------------------------------------
# JSON Lines: invalid JSON, non-UTF-8, missing text field
# ----------------------------------------------------------------------------------------------------------


def test_invalid_json_line(tmp_path, out, caplog):
    rows = c4_rows(3)
    data = (
        jsonl_bytes(rows[:1])
        + b"\n"  # a blank line still counts as a line
        + jsonl_bytes(rows[1:2])
        + b'{"text": "this line is cut off, "url": \n'
        + jsonl_bytes(rows[2:])
    )
    path = _write(tmp_path, "broken.jsonl", data)
    result = run_scan([path], out)
    counts = assert_counts_balance(result)
    assert counts["records_total"] == 4
    assert counts["records_read"] == 3
    assert counts["skipped_by_reason"] == {"invalid_json": 1}
    docs = _rows(out)
    assert [d["line"] for d in docs] == [1, 3, 4, 5]
    bad = [d for d in docs if d["skip_reason"] == "invalid_json"]
    assert len(bad) == 1 and bad[0]["line"] == 4 and bad[0]["record_index"] == 2
    lines = _skip_lines(caplog, "invalid_json")
    assert len(lines) == 1 and str(path) in lines[0] and "line 4" in lines[0]


def test_json_that_is_not_an_object(tmp_path, out):
    data = jsonl_bytes(c4_rows(1)) + b'["a", "list"]\n' + jsonl_bytes(c4_rows(2)[1:])
    path = _write(tmp_path, "list.jsonl", data)
    counts = assert_counts_balance(run_scan([path], out))
    assert counts["records_read"] == 2
    assert counts["skipped_by_reason"] == {"invalid_json": 1}


def test_non_utf8_in_jsonl(tmp_path, out, caplog):
    line = b'{"text": "Caf\xe9 robots serve coffee all day long.", "url": "https://cafe.example.fr/"}\n'
    data = jsonl_bytes(c4_rows(1)) + line + jsonl_bytes(c4_rows(2)[1:])
    path = _write(tmp_path, "latin1.jsonl", data)
    result = run_scan([path], out)
    counts = assert_counts_balance(result)
    assert counts["records_read"] == 3
    assert counts["records_skipped"] == 0
    assert counts["warnings_by_reason"] == {"non_utf8_replaced": 1}
    docs = docs_of([path])
    assert docs[1].text == "Caf\ufffd robots serve coffee all day long."
    assert docs[1].warnings == ["non_utf8_replaced"]
    assert all("\ufffd" not in d.text for d in (docs[0], docs[2]))
    assert _rows(out)[1]["warnings"] == ["non_utf8_replaced"]
    assert any(str(path) in r.getMessage() and "line 2" in r.getMessage() for r in caplog.records)


def test_non_utf8_in_wet_conversion(tmp_path, out, caplog):
    records = wet_records(3)
    records[2] = conversion_record(page_url(1), b"Na\xefve machines and cr\xe8me br\xfbl\xe9e.\n")
    path = _write(tmp_path, "latin1.warc.wet.gz", gzip_per_record(records))
    result = run_scan([path], out)
    counts = assert_counts_balance(result)
    assert counts["records_total"] == 4
    assert counts["records_read"] == 3
    assert counts["warnings_by_reason"] == {"non_utf8_replaced": 1}
    docs = [d for d in docs_of([path]) if not d.skipped]
    assert [d.format for d in docs] == ["wet"] * 3
    assert "\ufffd" in docs[1].text and docs[1].text.startswith("Na\ufffdve machines")
    assert all("\ufffd" not in d.text for d in (docs[0], docs[2]))
    assert any(str(path) in r.getMessage() and "record 2" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("name", ["bom.jsonl", "bom.jsonl.gz"])
def test_jsonl_utf8_byte_order_marks(tmp_path, out, name):
    # a BOM at the start of the file (Windows tools) and one mid-file (two such files concatenated)
    data = b"\xef\xbb\xbf" + jsonl_bytes(c4_rows(2)) + b"\xef\xbb\xbf" + jsonl_bytes(c4_rows(3)[2:])
    path = _write(tmp_path, name, gzip_member(data) if name.endswith(".gz") else data)
    counts = assert_counts_balance(run_scan([path], out))
    assert counts["records_read"] == 3
    assert counts["records_skipped"] == 0
    assert counts["warnings_by_reason"] == {}
    assert [d["url"] for d in _rows(out)] == [r["url"] for r in c4_rows(3)]


def test_missing_text_field_then_configured(tmp_path, out):
    rows = [{"content": f"Document {i} talks about machines.", "url": f"https://e{i}.example.com/"} for i in range(3)]
    path = _write(tmp_path, "content.jsonl", jsonl_bytes(rows))
    counts = assert_counts_balance(run_scan([path], out))
    assert counts["records_read"] == 0
    assert counts["skipped_by_reason"] == {"missing_text_field": 3}
    counts = assert_counts_balance(run_scan([path], out.with_name("out2"), reader=ReaderConfig(text_field="content")))
    assert counts["records_read"] == 3
    assert counts["records_skipped"] == 0
    texts = [d.text for d in docs_of([path], reader=ReaderConfig(text_field="content"))]
    assert texts == [r["content"] for r in rows]


# ----------------------------------------------------------------------------------------------------------
# size cap
# ----------------------------------------------------------------------------------------------------------


def test_jsonl_line_over_size_cap(tmp_path, out, caplog):
    rows = c4_rows(4)
    rows[1]["text"] = "x" * 5000
    path = _write(tmp_path, "big.jsonl", jsonl_bytes(rows))
    result = run_scan([path], out, reader=ReaderConfig(max_record_bytes=1000))
    counts = assert_counts_balance(result)
    assert counts["records_total"] == 4
    assert counts["records_read"] == 3
    assert counts["skipped_by_reason"] == {"record_too_large": 1}
    docs = _rows(out)
    assert docs[1]["skip_reason"] == "record_too_large" and docs[1]["line"] == 2
    assert [d["line"] for d in docs] == [1, 2, 3, 4]
    assert [d["url"] for d in docs if d["skip_reason"] is None] == [rows[0]["url"], rows[2]["url"], rows[3]["url"]]
    lines = _skip_lines(caplog, "record_too_large")
    assert len(lines) == 1 and str(path) in lines[0] and "line 2" in lines[0]


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_warc_record_over_size_cap(tmp_path, out, caplog, gz):
    records = _pages(3)
    records[2] = response_record(page_url(1), html_page("Huge", page_sentences(40, "huge")))
    assert len(records[2]) > 8000
    data = gzip_per_record(records) if gz else b"".join(records)
    path = _write(tmp_path, "huge.warc" + (".gz" if gz else ""), data)
    result = run_scan([path], out, reader=ReaderConfig(max_record_bytes=4000))
    counts = assert_counts_balance(result)
    assert counts["records_total"] == 4
    assert counts["records_read"] == 2
    assert counts["skipped_by_reason"] == {"record_too_large": 1, "warc_warcinfo": 1}
    rows = _rows(out)
    assert rows[2]["skip_reason"] == "record_too_large"
    assert [r["url"] for r in rows if r["skip_reason"] is None] == [page_url(0), page_url(2)]
    lines = _skip_lines(caplog, "record_too_large")
    assert len(lines) == 1 and str(path) in lines[0] and "record 2" in lines[0]


# ----------------------------------------------------------------------------------------------------------
# empty files
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["empty.jsonl", "empty.warc", "empty.jsonl.gz", "empty.warc.gz"])
def test_empty_file(tmp_path, out, name):
    path = _write(tmp_path, name, b"")
    result = run_scan([path], out)
    counts = assert_counts_balance(result)
    assert counts["records_total"] == 1
    assert counts["records_read"] == 0
    assert counts["skipped_by_reason"] == {"empty_file": 1}
    assert result.files[0].status == "ok"
    assert result.exit_code == 0


# ----------------------------------------------------------------------------------------------------------
# files that cannot be read at all
# ----------------------------------------------------------------------------------------------------------


def _wat_bytes() -> bytes:
    envelope = {
        "Envelope": {
            "Format": "WARC",
            "WARC-Header-Metadata": {"WARC-Type": "response"},
            "Payload-Metadata": {"Actual-Content-Type": "application/http; msgtype=response"},
        }
    }
    return gzip_per_record(
        [
            warc_record(
                "warcinfo",
                b"software: test\r\nformat: WAT\r\n",
                headers={
                    "WARC-Filename": "CC-MAIN-20240220-00000.warc.wat.gz",
                    "Content-Type": "application/warc-fields",
                },
            ),
            warc_record(
                "metadata",
                json.dumps(envelope).encode(),
                headers={"WARC-Target-URI": page_url(0), "Content-Type": "application/json"},
            ),
        ]
    )


@pytest.mark.parametrize("name", ["CC-MAIN-20240220-00000.warc.wat.gz", "renamed.warc.gz"])
def test_wat_file_is_refused(tmp_path, out, caplog, name):
    path = _write(tmp_path, name, _wat_bytes())
    result = run_scan([path], out)
    counts = assert_counts_balance(result)
    assert counts["records_total"] == 0
    [stats] = result.files
    assert stats.status == "refused"
    assert "WAT" in stats.message
    assert result.manifest["inputs"][0]["status"] == "refused"
    assert result.exit_code == 1  # a named input that cannot be read
    assert any(
        str(path) in r.getMessage() and "WAT" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR
    )


def test_wat_found_in_directory_does_not_fail_the_scan(tmp_path, out, jsonl_file):
    _write(tmp_path, "CC-MAIN-20240220-00000.warc.wat.gz", _wat_bytes())
    result = run_scan([tmp_path / "in"], out)
    counts = assert_counts_balance(result)
    assert counts["records_read"] == 3
    assert sorted(f.status for f in result.files) == ["ok", "refused"]
    assert result.exit_code == 0


def test_missing_named_path(tmp_path, out, jsonl_file, caplog):
    missing = tmp_path / "in" / "does-not-exist.jsonl"
    result = run_scan([jsonl_file, missing], out)
    counts = assert_counts_balance(result)
    assert counts["records_read"] == 3
    statuses = {f.source: f.status for f in result.files}
    assert statuses == {str(jsonl_file): "ok", str(missing): "missing"}
    assert result.exit_code == 1
    assert any(str(missing) in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def test_named_garbage_warc_fails_the_run(tmp_path, out, jsonl_file):
    rng = random.Random(1234)
    garbage = b"garbage:" + bytes(rng.randrange(256) for _ in range(8000))
    assert b"WARC/" not in garbage
    path = _write(tmp_path, "noise.warc", garbage)
    result = run_scan([path, jsonl_file], out)
    counts = assert_counts_balance(result)
    assert counts["records_read"] == 3  # the good file is still scanned
    stats = {f.source: f for f in result.files}
    assert stats[str(path)].records_read == 0
    assert stats[str(path)].records_skipped >= 1
    assert result.exit_code == 1


def test_named_garbage_warc_gz_fails_the_run(tmp_path, out):
    rng = random.Random(99)
    garbage = bytes(rng.randrange(256) for _ in range(8000))
    data = gzip_member(b"not a WARC record at all\r\n" + garbage)
    path = _write(tmp_path, "noise.warc.gz", data)
    result = run_scan([path], out)
    assert_counts_balance(result)
    assert result.files[0].records_read == 0
    assert result.exit_code == 1


def _response_with_block(block: bytes) -> bytes:
    return warc_record(
        "response",
        block,
        headers={"WARC-Target-URI": page_url(9), "Content-Type": "application/http; msgtype=response"},
    )


def test_http_error_status_is_a_quiet_skip(tmp_path, out, caplog):
    records = _pages(2)
    records.insert(
        2, _response_with_block(http_response(html_page("Gone", page_sentences(1, "g")), status="404 Not Found"))
    )
    path = _write(tmp_path, "status.warc", b"".join(records))
    counts = assert_counts_balance(run_scan([path], out))
    assert counts["records_read"] == 2
    assert counts["skipped_by_reason"] == {"http_not_ok": 1, "warc_warcinfo": 1}
    assert not _skip_lines(caplog, "http_not_ok")


def test_garbage_http_header_is_malformed_http(tmp_path, out, caplog):
    records = _pages(2)
    records.insert(2, _response_with_block(b"garbage, not an HTTP status line\r\n\r\n<html><body>x</body></html>"))
    path = _write(tmp_path, "badhttp.warc", b"".join(records))
    counts = assert_counts_balance(run_scan([path], out))
    assert counts["records_read"] == 2
    assert counts["skipped_by_reason"] == {"malformed_http": 1, "warc_warcinfo": 1}
    assert len(_skip_lines(caplog, "malformed_http")) == 1


# ----------------------------------------------------------------------------------------------------------
# Common Crawl metadata never reaches document text
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("robots", ["classic", "checked via crawler-commons"])
def test_robots_lines_never_reach_text(tmp_path, out, robots):
    path = _write(tmp_path, "CC-MAIN.warc.gz", gzip_per_record(cc_warc_records(2, robots=robots)))
    result = run_scan([path], out)
    counts = assert_counts_balance(result)
    assert counts["records_read"] == 2
    assert counts["skipped_by_reason"] == {"warc_warcinfo": 1, "warc_request": 2, "warc_metadata": 2}
    docs = docs_of([path])
    read = [d for d in docs if not d.skipped]
    assert len(read) == 2
    for doc in read:
        assert "robots:" not in doc.text
        assert "WARC-" not in doc.text
        assert "HTTP/1.1" not in doc.text
        assert "Paragraph 0" in doc.text
    assert all(d.text == "" for d in docs if d.skipped)
