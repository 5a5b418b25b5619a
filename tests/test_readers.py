"""Readers: format detection, the JSON layouts we know, Parquet, Gutenberg, input resolution and provenance."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import (
    GUTENBERG_BODY,
    assert_counts_balance,
    c4_rows,
    cc_warc_records,
    docs_of,
    gutenberg_bytes,
    gzip_member,
    gzip_per_record,
    jsonl_bytes,
    read_docs,
    warc_record,
    wet_records,
    write_parquet,
    zstd_compress,
)

from scanner.config import ReaderConfig
from scanner.errors import ShardError
from scanner.readers.detect import detect_format

# ----------------------------------------------------------------------------------------------------------
# format detection
# ----------------------------------------------------------------------------------------------------------

WARC_BYTES = b"".join(cc_warc_records(1))
WET_BYTES = b"".join(wet_records(1))
JSONL_BYTES = jsonl_bytes(c4_rows(2))


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        # content decides where it is unambiguous, whatever the name says
        ("CC-MAIN-00000.warc.gz", gzip_per_record(cc_warc_records(1)), "warc"),
        ("CC-MAIN-00000.warc", WARC_BYTES, "warc"),
        ("CC-MAIN-00000.warc.wet.gz", gzip_per_record(wet_records(1)), "wet"),
        ("no-extension", gzip_per_record(cc_warc_records(1)), "warc"),
        ("mislabelled.jsonl", WARC_BYTES, "warc"),
        ("data.bin", b"PAR1" + b"\x00" * 64, "parquet"),
        ("no-extension", JSONL_BYTES, "jsonl"),
        ("no-extension.gz", gzip_member(JSONL_BYTES), "jsonl"),
        ("no-extension", zstd_compress(JSONL_BYTES), "jsonl"),
        ("no-extension", b"Once upon a time there was a robot.\n", "text"),
        ("empty", b"", "text"),
        # otherwise the name decides
        ("c4-train.00000-of-01024.json.gz", gzip_member(JSONL_BYTES), "jsonl"),
        ("shard.ndjson", JSONL_BYTES, "jsonl"),
        ("shard.jsonl.zst", zstd_compress(JSONL_BYTES), "jsonl"),
        ("shard.jsonl.zstd", zstd_compress(JSONL_BYTES), "jsonl"),
        ("book.txt", b"Once upon a time.\n", "text"),
        ("book.TXT.GZ", gzip_member(b"Once upon a time.\n"), "text"),
        ("notes.txt", JSONL_BYTES, "text"),  # a .txt name wins over JSON-looking content
        ("x.parquet", b"not really parquet", "parquet"),
        ("empty.jsonl", b"", "jsonl"),
        ("empty.warc", b"", "warc"),
        ("https://example.org/path/data.jsonl.gz", gzip_member(JSONL_BYTES), "jsonl"),
    ],
)
def test_detect_format(name, head, expected):
    assert detect_format(name, head) == expected


_BYTES_VS_STR = (
    "BUG: detect.py compares the bytes that _WARC_TYPE.findall() returns with str literals "
    "(b'conversion' vs \"conversion\" in detect_format, b'metadata' / b'warcinfo' in _is_wat), so WET and WAT "
    "are never recognised from their record types: only from the file name (or a .wat WARC-Filename)"
)


def test_detect_wet_by_content():
    assert detect_format("no-extension", WET_BYTES) == "wet"


def test_detect_wet_by_content_gzip_single_member():
    assert detect_format("no-extension.gz", gzip_member(WET_BYTES)) == "wet"


def test_detect_wet_by_content_per_record_gzip():
    assert detect_format("no-extension", gzip_per_record(wet_records(1))) == "wet"


def _wat_without_filename() -> bytes:
    envelope = b'{"Envelope": {"Format": "WARC", "WARC-Header-Metadata": {"WARC-Type": "response"}}}'
    return warc_record(
        "warcinfo", b"software: test\r\n", headers={"Content-Type": "application/warc-fields"}
    ) + warc_record("metadata", envelope, headers={"Content-Type": "application/json"})


def test_detect_wat_by_envelope_content():
    with pytest.raises(ShardError) as info:
        detect_format("renamed.warc", _wat_without_filename())
    assert info.value.reason == "wat_refused"


def test_warc_with_metadata_first_is_not_wat():
    # a WARC whose first data record is metadata but holds no WAT envelope is a WARC
    data = warc_record("warcinfo", b"software: test\r\n") + warc_record("metadata", b"fetchTimeMs: 1\r\n")
    assert detect_format("x.warc", data) == "warc"


def test_detect_binary_without_a_name_is_refused():
    with pytest.raises(ShardError) as info:
        detect_format("mystery", b"\x00\x01\x02\x03binary\x00" * 50)
    assert info.value.reason == "unrecognised_format"


@pytest.mark.parametrize("name", ["CC-MAIN-00000.warc.wat.gz", "CC-MAIN-00000.wat"])
def test_detect_wat_by_name(name):
    with pytest.raises(ShardError) as info:
        detect_format(name, gzip_per_record(cc_warc_records(1)))
    assert info.value.reason == "wat_refused"
    assert "WAT" in info.value.message


def test_detect_wat_by_content_even_with_override():
    wat = warc_record("warcinfo", b"format: WAT\r\n", headers={"WARC-Filename": "CC-MAIN-00000.warc.wat.gz"})
    for override in ("auto", "warc", "jsonl"):
        with pytest.raises(ShardError) as info:
            detect_format("renamed.warc", wat, override)
        assert info.value.reason == "wat_refused"


@pytest.mark.parametrize(
    ("name", "head", "override"),
    [("notes.txt", JSONL_BYTES, "jsonl"), ("x.jsonl", JSONL_BYTES, "text"), ("x.warc", WARC_BYTES, "wet")],
)
def test_detect_override(name, head, override):
    assert detect_format(name, head, override) == override


def test_format_override_changes_the_reader(tmp_path, scan_into):
    path = tmp_path / "in" / "notes.txt"
    path.parent.mkdir()
    path.write_bytes(JSONL_BYTES)
    auto = scan_into([path])
    assert assert_counts_balance(auto)["records_read"] == 1  # one plain-text book
    assert auto.files[0].format == "text"
    forced = scan_into([path], reader=ReaderConfig(format="jsonl"))
    assert assert_counts_balance(forced)["records_read"] == 2
    assert forced.files[0].format == "jsonl"
    assert [d.url for d in docs_of([path], reader=ReaderConfig(format="jsonl"))] == [r["url"] for r in c4_rows(2)]


# ----------------------------------------------------------------------------------------------------------
# JSON Lines layouts
# ----------------------------------------------------------------------------------------------------------


def _one_doc(tmp_path: Path, row: dict, name: str = "one.jsonl", **config):
    path = tmp_path / "in" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(jsonl_bytes([row]))
    [doc] = docs_of([path], **config)
    return doc


def test_c4_layout(tmp_path):
    row = {
        "text": "Beep boop, said the robot.",
        "url": "https://www.news.example.co.uk/a/b?c=d",
        "timestamp": "2019-04-25T12:57:54Z",
    }
    doc = _one_doc(tmp_path, row)
    assert (doc.text, doc.url, doc.domain, doc.crawl_date) == (
        row["text"],
        row["url"],
        "example.co.uk",
        "2019-04-25T12:57:54Z",
    )
    assert doc.record_id is None
    assert (doc.format, doc.line, doc.record_index, doc.byte_offset) == ("jsonl", 1, 0, 0)


def test_dolma_layout(tmp_path):
    row = {
        "id": "d0c-1",
        "text": "A dolma document.",
        "source": "common-crawl",
        "added": "2023-01-01",
        "metadata": {"url": "http://forum.example.net/t/1", "warc_date": "2020-01-01T00:00:00Z"},
    }
    doc = _one_doc(tmp_path, row)
    assert doc.record_id == "d0c-1"
    assert doc.url == "http://forum.example.net/t/1"
    assert doc.domain == "example.net"
    assert doc.crawl_date == "2020-01-01T00:00:00Z"


def test_ccnet_layout_id_is_the_url(tmp_path):
    row = {"id": "https://de.wikipedia.org/wiki/Roboter", "text": "Ein Roboter ist eine Maschine."}
    doc = _one_doc(tmp_path, row)
    assert doc.record_id == row["id"]
    assert doc.url == row["id"]
    assert doc.domain == "wikipedia.org"


def test_paloma_subdomain_fills_domain(tmp_path):
    row = {
        "text": "A post about gardening robots.",
        "subdomain": "blog.gardening.example.com",
        "source": "c4_100_domains",
    }
    doc = _one_doc(tmp_path, row)
    assert doc.url is None
    assert doc.domain == "example.com"


def test_configured_fields(tmp_path):
    row = {"body": {"text": "Nested text."}, "link": "https://a.example.org/x", "when": "2021", "key": 7}
    doc = _one_doc(
        tmp_path, row, reader=ReaderConfig(text_field="body.text", url_field="link", date_field="when", id_field="key")
    )
    assert (doc.text, doc.url, doc.domain, doc.crawl_date, doc.record_id) == (
        "Nested text.",
        "https://a.example.org/x",
        "example.org",
        "2021",
        "7",
    )


@pytest.mark.parametrize(
    "name", ["c4-train.00000-of-01024.json.gz", "c4.jsonl.gz", "dolma.jsonl.zst", "plain.jsonl", "lines.ndjson"]
)
def test_jsonl_compressions(tmp_path, scan_into, name):
    data = jsonl_bytes(c4_rows(4))
    if name.endswith(".gz"):
        data = gzip_member(data)
    elif name.endswith(".zst"):
        data = zstd_compress(data)
    path = tmp_path / "in" / name
    path.parent.mkdir()
    path.write_bytes(data)
    result = scan_into([path])
    counts = assert_counts_balance(result)
    assert counts["records_read"] == 4
    assert result.files[0].format == "jsonl"
    rows = read_docs(result.out).to_pylist()
    assert [r["url"] for r in rows] == [r["url"] for r in c4_rows(4)]
    assert [r["line"] for r in rows] == [1, 2, 3, 4]
    assert [r["record_index"] for r in rows] == [0, 1, 2, 3]
    # byte offsets index the decompressed stream: each is the start of its line
    plain = jsonl_bytes(c4_rows(4))
    starts = [0, *[i + 1 for i, b in enumerate(plain) if b == 10][:-1]]
    assert [r["byte_offset"] for r in rows] == starts
    assert result.files[0].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_multi_member_gzip_jsonl(tmp_path, scan_into):
    rows = c4_rows(6)
    path = tmp_path / "in" / "multi.jsonl.gz"
    path.parent.mkdir()
    path.write_bytes(gzip_member(jsonl_bytes(rows[:2])) + gzip_member(jsonl_bytes(rows[2:])))
    counts = assert_counts_balance(scan_into([path]))
    assert counts["records_read"] == 6


# ----------------------------------------------------------------------------------------------------------
# Parquet
# ----------------------------------------------------------------------------------------------------------


def test_parquet_row_groups_and_struct_url(tmp_path, scan_into):
    rows = [
        {
            "id": f"doc-{i}",
            "text": f"Row {i} is about a robot.",
            "extra": i,
            "metadata": {"url": f"https://news{i}.example.co.uk/s/{i}", "lang": "en"},
        }
        for i in range(7)
    ]
    path = write_parquet(tmp_path / "rows.parquet", rows, row_group_size=3)
    import pyarrow.parquet as pq

    assert pq.ParquetFile(path).num_row_groups == 3
    result = scan_into([path])
    counts = assert_counts_balance(result)
    assert counts["records_read"] == 7
    out = read_docs(result.out).to_pylist()
    assert [r["record_index"] for r in out] == list(range(7))
    assert [r["record_id"] for r in out] == [f"doc-{i}" for i in range(7)]
    assert [r["url"] for r in out] == [f"https://news{i}.example.co.uk/s/{i}" for i in range(7)]
    assert {r["domain"] for r in out} == {"example.co.uk"}
    assert {r["format"] for r in out} == {"parquet"}
    assert [d.text for d in docs_of([path])] == [r["text"] for r in rows]


def test_parquet_nested_text_and_null_text(tmp_path, scan_into):
    schema = pa.schema([("doc", pa.struct([("text", pa.string())])), ("url", pa.string())])
    rows = [
        {"doc": {"text": "First."}, "url": "https://a.example.com/"},
        {"doc": {"text": None}, "url": "https://b.example.com/"},
        {"doc": {"text": "Third."}, "url": None},
    ]
    path = write_parquet(tmp_path / "nested.parquet", rows, schema=schema)
    result = scan_into([path], reader=ReaderConfig(text_field="doc.text"))
    counts = assert_counts_balance(result)
    assert counts["records_read"] == 2
    assert counts["skipped_by_reason"] == {"missing_text_field": 1}


# ----------------------------------------------------------------------------------------------------------
# Gutenberg
# ----------------------------------------------------------------------------------------------------------


def test_gutenberg_header_and_licence_stripped(gutenberg_txt, scan_into):
    [doc] = docs_of([gutenberg_txt])
    assert doc.title == "The Clockwork Friend"
    assert doc.author == "Jane Example"
    assert doc.language == "English"
    assert "Project Gutenberg" not in doc.text
    assert "PROJECT GUTENBERG" not in doc.text.upper()
    assert "LICENSE" not in doc.text
    assert "\r" not in doc.text
    assert "\ufeff" not in doc.text
    assert doc.text == GUTENBERG_BODY.replace("\r\n", "\n").strip()
    assert doc.text.startswith("CHAPTER I.")
    result = scan_into([gutenberg_txt])
    counts = assert_counts_balance(result)
    assert counts["records_total"] == 1 and counts["records_read"] == 1
    [row] = read_docs(result.out).to_pylist()
    assert (row["title"], row["author"], row["format"]) == ("The Clockwork Friend", "Jane Example", "text")
    assert row["n_chars"] == len(doc.text)


def test_gutenberg_gzip(tmp_path):
    path = tmp_path / "pg99999.txt.gz"
    path.write_bytes(gzip_member(gutenberg_bytes()))
    [doc] = docs_of([path])
    assert doc.title == "The Clockwork Friend"
    assert doc.text == GUTENBERG_BODY.replace("\r\n", "\n").strip()


def test_gutenberg_latin1_declared(tmp_path):
    data = gutenberg_bytes().decode("utf-8").lstrip("\ufeff")
    data = data.replace("Character set encoding: UTF-8", "Character set encoding: ISO-8859-1")
    data = data.replace("The automaton stood", "The automaton, na\u00efve, stood")
    path = tmp_path / "pg1.txt"
    path.write_bytes(data.encode("latin-1"))
    [doc] = docs_of([path])
    assert "na\u00efve" in doc.text
    assert doc.warnings == []


def test_plain_text_without_gutenberg_markers(tmp_path):
    path = tmp_path / "essay.txt"
    path.write_bytes(b"An essay.\r\n\r\nWith two paragraphs.\r\n")
    [doc] = docs_of([path])
    assert doc.text == "An essay.\n\nWith two paragraphs."
    assert doc.title is None


def test_plain_text_larger_than_64k_is_read_whole(tmp_path):
    paragraph = "The automaton said a few words about the river and the stars. " * 20
    body = "\n\n".join(f"{i}: {paragraph}" for i in range(200))
    assert len(body) > 3 * 65536
    path = tmp_path / "long.txt"
    path.write_bytes(body.encode())
    [doc] = docs_of([path])
    assert doc.text == body.strip()


# ----------------------------------------------------------------------------------------------------------
# WARC / WET provenance
# ----------------------------------------------------------------------------------------------------------


def test_warc_gz_byte_offsets_are_member_offsets(tmp_path, scan_into):
    members = [gzip_member(r) for r in cc_warc_records(3)]
    path = tmp_path / "in" / "cc.warc.gz"
    path.parent.mkdir()
    path.write_bytes(b"".join(members))
    result = scan_into([path])
    counts = assert_counts_balance(result)
    assert counts["records_total"] == len(members) == 10
    rows = read_docs(result.out).to_pylist()
    offsets = [sum(len(m) for m in members[:i]) for i in range(len(members))]
    assert [r["byte_offset"] for r in rows] == offsets
    assert [r["record_index"] for r in rows] == list(range(10))


def test_plain_warc_byte_offsets_are_record_offsets(cc_warc_plain, scan_into):
    records = cc_warc_records(2)
    result = scan_into([cc_warc_plain])
    rows = read_docs(result.out).to_pylist()
    assert [r["byte_offset"] for r in rows] == [sum(len(x) for x in records[:i]) for i in range(len(records))]


def test_warc_document_fields(cc_warc_gz):
    docs = [d for d in docs_of([cc_warc_gz]) if not d.skipped]
    assert [d.url for d in docs] == [
        "https://site0.example.com/articles/0.html",
        "https://site1.example.com/articles/1.html",
    ]
    assert {d.domain for d in docs} == {"example.com"}
    assert {d.crawl_date for d in docs} == {"2024-02-20T12:00:00Z"}
    assert all(d.record_id and d.record_id.startswith("<urn:uuid:") for d in docs)
    assert all(d.format == "warc" for d in docs)
    assert "Paragraph 2 of the site1 page" in docs[1].text
    assert "<p>" not in docs[1].text


def test_wet_documents(wet_gz, scan_into):
    result = scan_into([wet_gz])
    counts = assert_counts_balance(result)
    assert counts["records_read"] == 3
    assert counts["skipped_by_reason"] == {"warc_warcinfo": 1}
    assert result.files[0].format == "wet"
    docs = [d for d in docs_of([wet_gz]) if not d.skipped]
    assert [d.text.splitlines()[0] for d in docs] == ["Title of page 0", "Title of page 1", "Title of page 2"]
    assert {d.language for d in docs} == {"eng"}
    assert all("robots:" not in d.text for d in docs)


# ----------------------------------------------------------------------------------------------------------
# inputs: directories, globs, URLs
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "c4" / "deep").mkdir(parents=True)
    (root / ".cache").mkdir()
    (root / "a.jsonl").write_bytes(jsonl_bytes(c4_rows(2)))
    (root / "c4" / "b.json.gz").write_bytes(gzip_member(jsonl_bytes(c4_rows(3))))
    (root / "c4" / "deep" / "c.jsonl.zst").write_bytes(zstd_compress(jsonl_bytes(c4_rows(1))))
    (root / "README.md").write_text("# not an input\n")
    (root / "c4" / "LICENSE").write_text("not an input either\n")
    (root / ".cache" / "hidden.jsonl").write_bytes(jsonl_bytes(c4_rows(5)))
    return root


def test_directory_input_is_recursive(corpus_dir, scan_into):
    result = scan_into([corpus_dir])
    counts = assert_counts_balance(result)
    assert counts["records_read"] == 6
    sources = [Path(f.source).relative_to(corpus_dir).as_posix() for f in result.files]
    assert sources == ["a.jsonl", "c4/b.json.gz", "c4/deep/c.jsonl.zst"]
    assert all(not f.named for f in result.files)
    ignored = sorted(Path(i.source).relative_to(corpus_dir).as_posix() for i in result.ignored)
    assert ignored == ["README.md", "c4/LICENSE"]
    assert [e["source"] for e in result.manifest["ignored_files"]] == [i.source for i in result.ignored]
    assert {f.dataset for f in result.files} == {"corpus", "c4"}
    shards = sorted(p.name for p in (result.out / "docs").glob("*.parquet"))
    assert shards == ["a.jsonl.parquet", "c4__b.json.parquet", "c4__deep__c.jsonl.parquet"]


def test_glob_input(corpus_dir, scan_into):
    result = scan_into([str(corpus_dir / "**" / "*.js*")])
    counts = assert_counts_balance(result)
    assert counts["records_read"] == 6
    assert len(result.files) == 3
    assert result.exit_code == 0
    result = scan_into([str(corpus_dir / "c4" / "*.gz")])
    assert assert_counts_balance(result)["records_read"] == 3


def test_glob_matching_nothing_is_missing(tmp_path, scan_into):
    result = scan_into([str(tmp_path / "nothing-*.jsonl")])
    assert [f.status for f in result.files] == ["missing"]
    assert result.exit_code == 1


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def http_root(tmp_path: Path):
    """A local HTTP server on 127.0.0.1 serving ``tmp_path`` (in a background thread); yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.parametrize("fixture", ["cc_warc_gz", "jsonl_gz", "jsonl_zst", "wet_gz"])
def test_url_input_matches_local_file(request, tmp_path, http_root, scan_into, fixture):
    local: Path = request.getfixturevalue(fixture)
    url = f"{http_root}/{local.relative_to(tmp_path).as_posix()}"
    by_file = scan_into([local])
    by_url = scan_into([url])
    assert_counts_balance(by_file)
    assert_counts_balance(by_url)
    assert by_url.files[0].source == url
    assert by_url.files[0].status == "ok"
    assert by_url.files[0].sha256 == by_file.files[0].sha256 == hashlib.sha256(local.read_bytes()).hexdigest()
    file_rows = read_docs(by_file.out).drop_columns(["source_path"]).to_pylist()
    url_rows = read_docs(by_url.out).drop_columns(["source_path"]).to_pylist()
    assert url_rows == file_rows
    assert len(file_rows) > 0
    assert set(read_docs(by_url.out).column("source_path").to_pylist()) == {url}


def test_missing_url_is_missing(http_root, scan_into):
    result = scan_into([f"{http_root}/in/nope.jsonl"])
    assert [f.status for f in result.files] == ["missing"]
    assert result.exit_code == 1


# ----------------------------------------------------------------------------------------------------------
# determinism and hashing
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["cc_warc_gz", "jsonl_file", "parquet_file", "gutenberg_txt", "wet_gz"])
def test_scans_are_byte_identical(request, scan_into, fixture):
    path: Path = request.getfixturevalue(fixture)
    first = scan_into([path])
    second = scan_into([path])
    a = sorted((first.out / "docs").glob("*.parquet"))
    b = sorted((second.out / "docs").glob("*.parquet"))
    assert [p.name for p in a] == [p.name for p in b] and a
    for x, y in zip(a, b, strict=True):
        assert x.read_bytes() == y.read_bytes()
    ids = read_docs(first.out).column("doc_id").to_pylist()
    assert len(set(ids)) == len(ids)


def test_doc_id_depends_on_key_and_index(tmp_path, scan_into):
    one = tmp_path / "d1" / "same.jsonl"
    two = tmp_path / "d2" / "same.jsonl"
    for p in (one, two):
        p.parent.mkdir()
        p.write_bytes(jsonl_bytes(c4_rows(2)))
    ids_one = read_docs(scan_into([one]).out).column("doc_id").to_pylist()
    ids_two = read_docs(scan_into([two]).out).column("doc_id").to_pylist()
    assert ids_one != ids_two  # datasets d1 / d2 differ
    assert len(set(ids_one)) == 2


def test_doc_ids_unique_across_same_named_files(tmp_path, scan_into):
    paths = []
    for top, rows in (("a", c4_rows(2)), ("b", c4_rows(4)[2:])):
        p = tmp_path / top / "data" / "x.jsonl"
        p.parent.mkdir(parents=True)
        p.write_bytes(jsonl_bytes(rows))
        paths.append(p)
    result = scan_into(paths)
    assert_counts_balance(result)
    ids = read_docs(result.out).column("doc_id").to_pylist()
    assert len(ids) == 4
    assert len(set(ids)) == 4


def test_sha256_covers_the_whole_file(jsonl_file, scan_into):
    result = scan_into([jsonl_file])
    assert result.files[0].sha256 == hashlib.sha256(jsonl_file.read_bytes()).hexdigest()
    assert result.manifest["inputs"][0]["sha256"] == result.files[0].sha256


def test_sha256_covers_the_whole_file_with_limit(jsonl_file, scan_into):
    result = scan_into([jsonl_file], limit=1)
    assert result.manifest["counts"]["records_read"] == 1
    assert result.files[0].sha256 == hashlib.sha256(jsonl_file.read_bytes()).hexdigest()


def test_limit_stops_across_files(tmp_path, scan_into):
    paths = []
    for name in ("a.jsonl", "b.jsonl", "c.jsonl"):
        p = tmp_path / "in" / name
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(jsonl_bytes(c4_rows(3)))
        paths.append(p)
    result = scan_into(paths, limit=4)
    counts = assert_counts_balance(result)
    assert counts["records_read"] == 4
    assert [f.records_read for f in result.files] == [3, 1]


# ----------------------------------------------------------------------------------------------------------
# reading cost (counted, not timed)
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def count_raw_reads(monkeypatch):
    """Count the read calls InputStream makes on the file as stored."""
    import contextlib

    import scanner.readers.stream as stream_mod

    calls = {"read": 0}
    real_open_raw = stream_mod.open_raw

    class _Counting:
        def __init__(self, handle):
            self._handle = handle

        def read(self, *args):
            calls["read"] += 1
            return self._handle.read(*args)

        def __getattr__(self, name):
            return getattr(self._handle, name)

    @contextlib.contextmanager
    def counting_open_raw(source):
        with real_open_raw(source) as handle:
            yield _Counting(handle)

    monkeypatch.setattr(stream_mod, "open_raw", counting_open_raw)
    return calls


def test_gzip_jsonl_is_read_in_chunks(tmp_path, count_raw_reads):
    data = jsonl_bytes(c4_rows(3)) * 300  # ~170 KB, beyond the 64 KiB head
    path = tmp_path / "big.jsonl.gz"
    path.write_bytes(gzip_member(data))
    assert len(docs_of([path])) == 900
    assert count_raw_reads["read"] < 50


def test_plain_jsonl_is_read_in_chunks(tmp_path, count_raw_reads):
    data = jsonl_bytes(c4_rows(3)) * 300
    path = tmp_path / "big.jsonl"
    path.write_bytes(data)
    assert len(docs_of([path])) == 900
    assert count_raw_reads["read"] < 50
