"""Corruption fuzzing: valid inputs of every format, damaged by hypothesis, must scan without crashing or hanging.

Every example builds a valid input with the conftest builders, damages it (truncation, flipped or overwritten
bytes, inserted garbage, bad ``Content-Length`` values, wrong encodings, giant records, wrong Parquet column
types), runs the real scan (classification off) and checks the invariants every damaged input must keep:

* no exception escapes the scan, and no file ends in status ``failed`` (an unexpected exception in the pipeline);
* ``records_read + records_skipped == records_total`` per file and overall, and the docs store holds one row
  per record;
* every skipped record carries a skip reason documented in docs/output-format.md and a non-empty detail, and
  every warning is a documented one;
* a file that cannot be read at all, or whose every record is damaged, says why (``message``);
* the scan finishes (a 60 s alarm per example catches hangs; nothing here measures speed).

CI runs a few dozen derandomized examples per test. A local campaign runs many more, randomly:
``TROPESCAN_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py`` (failures are then reported with the example that
shrank; add it as a regression test in test_bad_input.py).
"""

from __future__ import annotations

import functools
import io
import os
import re
import signal
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import (
    assert_counts_balance,
    c4_rows,
    cc_warc_records,
    conversion_record,
    gzip_member,
    gzip_per_record,
    http_response,
    jsonl_bytes,
    page_url,
    read_docs,
    response_record,
    warc_record,
    wet_records,
    write_parquet,
    zstd_compress,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.config import ClassifyConfig, DedupConfig, ReaderConfig, ScanConfig
from scanner.pipeline import ScanResult, scan, scan_file, write_manifest
from scanner.readers.inputs import resolve_inputs
from scanner.readers.warcframe import WarcFramer
from scanner.stats import FileStats

# ----------------------------------------------------------------------------------------------------------
# settings: small and deterministic in CI, large and random in a local campaign
# ----------------------------------------------------------------------------------------------------------

CAMPAIGN_EXAMPLES = int(os.environ.get("TROPESCAN_FUZZ_EXAMPLES", "0"))
HANG_SECONDS = 60
# Every example writes and deletes a small scan; on tmpfs that is several times faster than on some disks.
SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def fuzz(max_examples: int) -> Callable[[Any], Any]:
    return settings(
        derandomize=not CAMPAIGN_EXAMPLES,
        database=None,
        deadline=None,
        max_examples=CAMPAIGN_EXAMPLES or max_examples,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# ----------------------------------------------------------------------------------------------------------
# what a damaged scan may report: the documented skip reasons and warnings
# ----------------------------------------------------------------------------------------------------------

OUTPUT_FORMAT_DOC = Path(__file__).resolve().parent.parent / "docs" / "output-format.md"


def _documented_names(heading: str) -> frozenset[str]:
    """The backticked names in the first column of the tables under ``### <heading>``."""
    text = OUTPUT_FORMAT_DOC.read_text(encoding="utf-8")
    section = text.split(f"### {heading}\n", 1)[1].split("\n#", 1)[0]
    names: set[str] = set()
    for row in section.splitlines():
        if row.startswith("| `"):
            names.update(re.findall(r"`([a-z0-9_]+)`", row.split("|")[1]))
    return frozenset(names)


SKIP_REASONS = _documented_names("Skip reasons")
WARNINGS = _documented_names("Warnings")
STATUSES = frozenset({"ok", "unreadable", "refused"})  # never "failed": that is an unexpected exception


def test_documented_names_are_found():
    assert {"truncated_gzip", "bad_content_length", "corrupt_row_group", "empty_file"} <= SKIP_REASONS
    assert "non_utf8_replaced" in WARNINGS


# ----------------------------------------------------------------------------------------------------------
# running one damaged input
# ----------------------------------------------------------------------------------------------------------


class _Hang(BaseException):
    """Raised by the alarm; a BaseException so that the pipeline's per-file ``except Exception`` lets it pass."""


@contextmanager
def hang_guard(seconds: int = HANG_SECONDS) -> Iterator[None]:
    """Fail (instead of hanging the test run) when the body runs longer than ``seconds``."""

    def _alarm(signum: int, frame: Any) -> None:
        raise _Hang

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Hang:
        raise AssertionError(f"the scan did not finish within {seconds} s (a hang)") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Scanned:
    result: ScanResult
    docs: list[dict[str, Any]]  # every row of the docs store

    @property
    def stats(self) -> FileStats:
        [stats] = self.result.files
        return stats

    @property
    def read(self) -> list[dict[str, Any]]:
        return [r for r in self.docs if r["skip_reason"] is None]


def scan_damaged(name: str, data: bytes, *, reader: ReaderConfig | None = None, full: bool = False) -> Scanned:
    """Scan ``data`` (written as ``name``), check every invariant, and return what was found.

    By default only :func:`scanner.pipeline.scan_file` runs (read, segment, MinHash, write: what damage can
    reach), which is several times faster; ``full`` runs the whole :func:`scanner.pipeline.scan` with
    near-duplicate clustering and the report.
    """
    with tempfile.TemporaryDirectory(prefix="tropescan-fuzz-", dir=SCRATCH) as tmp:
        path = Path(tmp) / "in" / name
        path.parent.mkdir()
        path.write_bytes(data)
        config = ScanConfig.build(
            inputs=[str(path)],
            out=str(Path(tmp) / "out"),
            classify=ClassifyConfig(enabled=False),
            dedup=DedupConfig(enabled=True),
            reader=reader or ReaderConfig(),
        )
        with hang_guard():
            if full:
                result = scan(config)
            else:
                files, _ = resolve_inputs(config.inputs)
                stats = [scan_file(file, config, Path(config.out)) for file in files]
                result = ScanResult(config, Path(config.out), stats, [], 0.0)
                result.manifest = write_manifest(result)
        return Scanned(result, check_invariants(result))


def check_invariants(result: ScanResult) -> list[dict[str, Any]]:
    for stats in result.files:
        assert stats.status in STATUSES, (stats.status, stats.message)
        if stats.wholly_unreadable:  # not ok, or ok with every record damaged
            assert stats.message, stats
    assert_counts_balance(result)
    docs = read_docs(result.out).to_pylist()
    for row in docs:
        if row["skip_reason"] is not None:
            assert row["skip_reason"] in SKIP_REASONS, row
            assert row["skip_detail"], row
        assert set(row["warnings"] or ()) <= WARNINGS, row
    return docs


# ----------------------------------------------------------------------------------------------------------
# the formats: valid records ("units": WARC records, JSON lines) and how they are packed into a file
# ----------------------------------------------------------------------------------------------------------


def _jsonl_units() -> list[bytes]:
    return [jsonl_bytes([row]) for row in c4_rows(4)]


def _two_members(compress: Callable[[bytes], bytes]) -> Callable[[list[bytes]], bytes]:
    """Lines 0-1 in a first gzip member / zstd frame, the rest in a second."""
    return lambda units: compress(b"".join(units[:2])) + compress(b"".join(units[2:]))


@dataclass(frozen=True)
class Fmt:
    id: str
    name: str  # the file name the input is written as
    units: Callable[[], list[bytes]]
    pack: Callable[[list[bytes]], bytes]
    per_unit: bool  # a unit's stored bytes are its own (plain, or one gzip member per record)

    def __repr__(self) -> str:
        return self.id

    def valid(self) -> bytes:
        return self.pack(self.units())

    def unit_ends(self) -> list[int]:
        """Stored offset where each unit ends (``per_unit`` formats only)."""
        ends, at = [], 0
        for unit in self.units():
            at += len(self.pack([unit]))
            ends.append(at)
        return ends


def _parquet_bytes() -> bytes:
    rows = [
        {
            "id": f"doc-{i}",
            "text": f"Row {i}: a story about a helpful robot and a lighthouse keeper.",
            "metadata": {"url": f"https://blog{i}.example.org/p/{i}"},
        }
        for i in range(5)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        return write_parquet(Path(tmp) / "x.parquet", rows, row_group_size=2).read_bytes()


_join = b"".join
WARC_GZ = Fmt("warc.gz", "CC-MAIN-20240220-00000.warc.gz", lambda: cc_warc_records(2), gzip_per_record, True)
WARC = Fmt("warc", "CC-MAIN-20240220-00000.warc", lambda: cc_warc_records(2), _join, True)
WET_GZ = Fmt("wet.gz", "CC-MAIN-20240220-00000.warc.wet.gz", lambda: wet_records(3), gzip_per_record, True)
JSONL = Fmt("jsonl", "c4-train.00000-of-01024.jsonl", _jsonl_units, _join, True)
JSONL_GZ = Fmt("jsonl.gz", "c4-train.00000-of-01024.jsonl.gz", _jsonl_units, _two_members(gzip_member), False)
JSONL_ZST = Fmt("jsonl.zst", "shard-0000.jsonl.zst", _jsonl_units, _two_members(zstd_compress), False)
PARQUET = Fmt("parquet", "train-00000-of-00001.parquet", lambda: [_parquet_bytes()], _join, False)

WARC_FORMATS = [WARC_GZ, WARC, WET_GZ]
LINE_FORMATS = [JSONL, JSONL_GZ, JSONL_ZST]
COMPRESSED = [WARC_GZ, WET_GZ, JSONL_GZ, JSONL_ZST]
ALL_FORMATS = [*WARC_FORMATS, *LINE_FORMATS, PARQUET]


@functools.cache
def valid_bytes(fmt: Fmt) -> bytes:
    return fmt.valid()


@functools.cache
def read_indices(fmt: Fmt) -> frozenset[int]:
    """Record indices read (not skipped) from the undamaged input."""
    scanned = scan_damaged(fmt.name, valid_bytes(fmt))
    assert all(reason.startswith("warc_") for reason in scanned.stats.skipped_by_reason), scanned.stats
    return frozenset(r["record_index"] for r in scanned.read)


# ----------------------------------------------------------------------------------------------------------
# byte damage, one strategy per kind
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Truncate:
    at: int

    def __call__(self, data: bytes) -> bytes:
        return data[: self.at]


@dataclass(frozen=True)
class Flip:
    """XOR ``mask`` into the byte at each offset."""

    at: tuple[int, ...]
    mask: tuple[int, ...]

    def __call__(self, data: bytes) -> bytes:
        out = bytearray(data)
        for at, mask in zip(self.at, self.mask, strict=True):
            if at < len(out):
                out[at] ^= mask
        return bytes(out)


@dataclass(frozen=True)
class Overwrite:
    at: int
    data: bytes

    def __call__(self, data: bytes) -> bytes:
        return data[: self.at] + self.data + data[self.at + len(self.data) :]


@dataclass(frozen=True)
class Insert:
    at: int  # == len(data): appended
    data: bytes

    def __call__(self, data: bytes) -> bytes:
        return data[: self.at] + self.data + data[self.at :]


@dataclass(frozen=True)
class Damages:
    steps: tuple[Callable[[bytes], bytes], ...]

    def __call__(self, data: bytes) -> bytes:
        for step in self.steps:
            data = step(data)
        return data


def offsets(n: int) -> st.SearchStrategy[int]:
    """Anywhere in ``n`` bytes, with extra weight on the first and last 64 (magic numbers, headers, footers)."""
    last = max(n - 1, 0)
    return st.one_of(st.integers(0, last), st.integers(0, min(63, last)), st.integers(max(0, n - 64), last))


# Byte strings that mean something to some reader: inserted, they make the damage interesting.
MEANINGFUL = [
    b"WARC/1.0\r\n",
    b"\r\n\r\n",
    b"\nWARC/1.0\r\nWARC-Type: response\r\nContent-Length: 99999999\r\n\r\n",
    b"WARC/1.0\r\nContent-Length: 5\r\n\r\nhello\r\n\r\n",
    b"\x1f\x8b\x08",
    b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff",
    b"\x28\xb5\x2f\xfd",
    b"\x00" * 32,
    b"PAR1",
    b"{",
    b'{"text": 5}\n',
    b'{"text": "inserted line of text"}\n',
    b"\n" * 8,
    b"\xff" * 8,
    gzip_member(b"WARC/1.0\r\nWARC-Type: conversion\r\nContent-Length: 4\r\n\r\ntext\r\n\r\n"),
    gzip_member(b"not a warc record\r\n")[:12],
    zstd_compress(b'{"text": "a frame of its own"}\n'),
]
garbage = st.one_of(st.binary(min_size=1, max_size=64), st.sampled_from(MEANINGFUL))


def truncations(n: int) -> st.SearchStrategy[Truncate]:
    return st.builds(Truncate, st.integers(0, max(n - 1, 0)))


def flips(n: int) -> st.SearchStrategy[Flip]:
    pairs = st.lists(st.tuples(offsets(n), st.integers(1, 255)), min_size=1, max_size=8)
    return pairs.map(lambda ps: Flip(tuple(p[0] for p in ps), tuple(p[1] for p in ps)))


def overwrites(n: int) -> st.SearchStrategy[Damages]:
    one = st.builds(Overwrite, offsets(n), st.one_of(st.binary(min_size=1, max_size=16), garbage))
    return st.lists(one, min_size=1, max_size=4).map(lambda steps: Damages(tuple(steps)))


def insertions(n: int) -> st.SearchStrategy[Damages]:
    one = st.builds(Insert, st.one_of(offsets(n + 1), st.just(n)), garbage)
    return st.lists(one, min_size=1, max_size=3).map(lambda steps: Damages(tuple(steps)))


def any_damage(n: int) -> st.SearchStrategy[Damages]:
    one = st.one_of(truncations(n), flips(n), overwrites(n), insertions(n))
    return st.lists(one, min_size=1, max_size=3).map(lambda steps: Damages(tuple(steps)))


# ----------------------------------------------------------------------------------------------------------
# regressions the campaign found
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"WARC/1.0\n" * 130_000,  # over MAX_HEADER_BYTES of WARC/ lines, no blank line anywhere
        b"WARC/1.0\n" * 30_000 + b"\r\n\r\n",  # one far-away header end that every line's header reached
    ],
    ids=["no-header-end", "far-header-end"],
)
def test_malformed_headers_cost_linear_time(data):
    """Each WARC/ line is a record with a malformed header; the framer used to search (and parse) up to the
    same far-away header end again for every one of them, quadratic in the size of the damage."""
    with hang_guard(20):
        records = list(WarcFramer(io.BytesIO(data), head=data[:65536], max_record_bytes=1 << 20))
    assert len(records) == data.count(b"WARC/")
    assert {r.error.reason for r in records if r.error} <= {"malformed_warc_header", "truncated_record"}
    assert all(r.error for r in records)


# ----------------------------------------------------------------------------------------------------------
# damaged stored bytes, every format
# ----------------------------------------------------------------------------------------------------------


def _read_before(fmt: Fmt, offset: int) -> int:
    """Records read from the undamaged input whose stored bytes all lie before ``offset``."""
    ends = fmt.unit_ends()
    return sum(1 for i in read_indices(fmt) if ends[i] <= offset)


def _first_damaged(damage: Callable[[bytes], bytes]) -> int:
    """The first stored offset a damage touches (every byte before it is intact)."""
    if isinstance(damage, Damages):
        return min(_first_damaged(step) for step in damage.steps)
    if isinstance(damage, Flip):
        return min(damage.at)
    assert isinstance(damage, Truncate | Overwrite | Insert)
    return damage.at


def check_prefix_read(fmt: Fmt, scanned: Scanned, damage: Callable[[bytes], bytes]) -> None:
    """Records whose stored bytes all lie before the damage are still read."""
    if fmt.per_unit:
        assert scanned.stats.records_read >= _read_before(fmt, _first_damaged(damage)), scanned.stats


@pytest.mark.parametrize("damages", [truncations, flips, overwrites, insertions], ids=lambda f: f.__name__)
@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=repr)
@fuzz(20)
@given(data=st.data())
def test_damaged_anywhere(fmt, damages, data):
    """Truncated at any offset, bytes flipped or overwritten, garbage inserted or appended."""
    valid = valid_bytes(fmt)
    damage = data.draw(damages(len(valid)), label="damage")
    scanned = scan_damaged(fmt.name, damage(valid))
    check_prefix_read(fmt, scanned, damage)


@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=repr)
@fuzz(5)
@given(data=st.data())
def test_mixed_damage_through_the_whole_scan(fmt, data):
    """Several damages at once, through clustering and the report as well (slower: fewer examples)."""
    valid = valid_bytes(fmt)
    damage = data.draw(any_damage(len(valid)), label="damage")
    scanned = scan_damaged(fmt.name, damage(valid), full=True)
    check_prefix_read(fmt, scanned, damage)


@pytest.mark.parametrize("fmt", COMPRESSED, ids=repr)
@fuzz(20)
@given(data=st.data())
def test_damage_inside_the_compressed_content(fmt, data):
    """The compression is intact; what it holds (one WARC record, one JSON line) is damaged."""
    units = fmt.units()
    i = data.draw(st.integers(0, len(units) - 1), label="unit")
    damage = data.draw(any_damage(len(units[i])), label="damage")
    units[i] = damage(units[i])
    scanned = scan_damaged(fmt.name, fmt.pack(units))
    assert scanned.stats.records_read >= len([j for j in read_indices(fmt) if j < i])


# ----------------------------------------------------------------------------------------------------------
# bad Content-Length values in WARC headers
# ----------------------------------------------------------------------------------------------------------

_CONTENT_LENGTH = re.compile(rb"^Content-Length:[^\r\n]*\r\n", re.MULTILINE)

# str: the header's new value; int: an offset from the true length; None: the header is removed
content_lengths = st.one_of(
    st.integers(-(10**12), -1).map(str),
    st.integers(2**31, 10**40).map(str),
    st.sampled_from(["", "abc", "12abc", "0x10", "1e3", "+5", "-0", " 7 ", "1_0", "١٢", "１２", "NaN", "\x00", "ÿ"]),
    st.integers(-600, 600).filter(bool),
    st.just(None),
)


def with_content_length(record: bytes, value: str | int | None) -> bytes:
    """``record`` with its WARC ``Content-Length`` (the first one: the HTTP header comes later) replaced."""
    match = _CONTENT_LENGTH.search(record)
    assert match is not None
    if value is None:
        new = b""
    elif isinstance(value, int):
        true = int(match.group().split(b":")[1])
        new = b"Content-Length: %d\r\n" % (true + value)
    else:
        new = b"Content-Length: " + value.encode("utf-8") + b"\r\n"
    return record[: match.start()] + new + record[match.end() :]


@pytest.mark.parametrize("fmt", WARC_FORMATS, ids=repr)
@fuzz(30)
@given(data=st.data())
def test_bad_content_length(fmt, data):
    units = fmt.units()
    damaged = data.draw(
        st.dictionaries(st.integers(0, len(units) - 1), content_lengths, min_size=1, max_size=3), label="lengths"
    )
    for i, value in damaged.items():
        units[i] = with_content_length(units[i], value)
    scanned = scan_damaged(fmt.name, fmt.pack(units))
    first = min(damaged)
    assert scanned.stats.records_read >= len([j for j in read_indices(fmt) if j < first])
    assert scanned.stats.records_total >= first + 1


# ----------------------------------------------------------------------------------------------------------
# wrong encodings: latin-1 / cp1252 / UTF-16 bytes, invalid UTF-8, NUL bytes, byte-order marks
# ----------------------------------------------------------------------------------------------------------

TEXT = "Café naïve — “robots” ¿qué? 日本語 ünïcödé: a paragraph about machines and the people who build them.\n" * 3
ENCODINGS = ["utf-8", "latin-1", "cp1252", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig", "shift_jis"]
BOMS = [b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00"]
BAD_BYTES = [b"\xff", b"\xc3", b"\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x00", b"\x00" * 4, *BOMS]
CHARSETS = ["utf-8", "iso-8859-1", "windows-1252", "utf-16", "shift_jis", "bogus-charset-x", ""]


@st.composite
def mis_encoded(draw: st.DrawFn) -> bytes:
    """``TEXT`` in some encoding, with invalid bytes spliced in and perhaps a byte-order mark in front."""
    data = TEXT.encode(draw(st.sampled_from(ENCODINGS)), errors="replace")
    spliced = draw(st.lists(st.tuples(st.integers(0, len(data)), st.sampled_from(BAD_BYTES)), max_size=4))
    for at, bad in sorted(spliced, reverse=True):
        data = data[:at] + bad + data[at:]
    if draw(st.booleans()):
        data = draw(st.sampled_from(BOMS)) + data
    return data


def _html_response(url: str, payload: bytes, charset: str | None) -> bytes:
    ctype = "text/html" if charset is None else f"text/html; charset={charset}"
    html = b"<html><head><title>T</title></head><body><article><p>" + payload + b"</p></article></body></html>"
    return warc_record(
        "response",
        http_response(html, content_type=ctype),
        headers={"WARC-Target-URI": url, "Content-Type": "application/http; msgtype=response"},
        seed=f"enc:{url}",
    )


def _json_line(url: str, payload: bytes, whole_line: str | None) -> bytes:
    """A JSON line whose text value holds ``payload`` raw; or (``whole_line``) a valid line re-encoded."""
    if whole_line is not None:
        return jsonl_bytes([{"text": TEXT, "url": url}]).decode().encode(whole_line, errors="replace")
    escaped = payload.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\n", b"\\n")
    return b'{"text": "' + escaped + b'", "url": "' + url.encode() + b'"}\n'


@pytest.mark.parametrize("fmt", WARC_FORMATS + LINE_FORMATS, ids=repr)
@fuzz(20)
@given(data=st.data())
def test_wrong_encodings(fmt, data):
    units = fmt.units()
    first_doc = 1 if fmt in WARC_FORMATS else 0  # keep the warcinfo record
    targets = data.draw(st.sets(st.integers(first_doc, len(units) - 1), min_size=1, max_size=3), label="units")
    for i in sorted(targets):
        url = page_url(i)
        payload = data.draw(mis_encoded(), label=f"payload {i}")
        if fmt.id == "wet.gz":
            units[i] = conversion_record(url, payload)
        elif fmt in WARC_FORMATS:
            units[i] = _html_response(url, payload, data.draw(st.one_of(st.none(), st.sampled_from(CHARSETS))))
        else:
            whole = data.draw(st.one_of(st.none(), st.sampled_from(ENCODINGS[1:])), label="whole line encoding")
            units[i] = _json_line(url, payload, whole)
        if fmt in WARC_FORMATS and data.draw(st.booleans(), label="bad bytes in the URL header"):
            junk = payload[:40].replace(b"\r", b"").replace(b"\n", b"")
            units[i] = units[i].replace(url.encode(), url.encode() + junk, 1)
    scanned = scan_damaged(fmt.name, fmt.pack(units))
    stats = scanned.stats
    if fmt in WARC_FORMATS:  # encodings never break the WARC framing (Content-Length is exact)
        assert stats.records_total == len(units), stats
        assert not set(stats.skipped_by_reason) & {"malformed_warc_header", "bad_content_length"}, stats
    assert stats.records_read >= len([j for j in read_indices(fmt) if j < min(targets)])


# ----------------------------------------------------------------------------------------------------------
# giant records: a small size cap makes them cheap
# ----------------------------------------------------------------------------------------------------------


def _giant_unit(fmt: Fmt, size: int) -> bytes:
    """A record whose capped measure (WARC block, JSON line without its newline) is exactly ``size``."""
    url = "https://giant.example.com/big.html"
    if fmt.id == "wet.gz":
        return conversion_record(url, b"x" * size)
    if fmt in WARC_FORMATS:
        overhead = len(http_response(b""))
        html = b"<html><body><p>" + b"word " * size
        return response_record(url, html[: max(size - overhead, 0)])
    prefix, suffix = b'{"text": "', b'", "url": "' + url.encode() + b'"}'
    return prefix + b"y" * max(size - len(prefix) - len(suffix), 0) + suffix + b"\n"


def _capped_measure(fmt: Fmt, unit: bytes) -> int:
    if fmt in WARC_FORMATS:
        match = _CONTENT_LENGTH.search(unit)
        assert match is not None
        return int(match.group().split(b":")[1])
    return len(unit.rstrip(b"\n"))


@st.composite
def caps_and_sizes(draw: st.DrawFn) -> tuple[int, list[int]]:
    """A size cap and the sizes of 1-3 giant records, some right at the cap."""
    cap = draw(st.integers(16, 6000))
    near = st.integers(-2, 2).map(lambda d: max(cap + d, 0))
    return cap, draw(st.lists(st.one_of(st.integers(0, 3 * cap), near), min_size=1, max_size=3))


def _parquet_with_texts(texts: list[str]) -> bytes:
    rows = [{"id": f"doc-{i}", "text": t, "url": page_url(i)} for i, t in enumerate(texts)]
    with tempfile.TemporaryDirectory() as tmp:
        return write_parquet(Path(tmp) / "x.parquet", rows, row_group_size=2).read_bytes()


@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=repr)
@fuzz(15)
@given(data=st.data())
def test_giant_records(fmt, data):
    cap, sizes = data.draw(caps_and_sizes(), label="cap, sizes")
    reader = ReaderConfig(max_record_bytes=cap)
    if fmt is PARQUET:
        texts = [r["text"] for r in c4_rows(3)] + ["z" * size for size in sizes]
        scanned = scan_damaged(fmt.name, _parquet_with_texts(texts), reader=reader)
        too_large = sum(len(t) > cap for t in texts)
    else:
        units = fmt.units()
        for size in sizes:
            at = data.draw(st.integers(1 if fmt in WARC_FORMATS else 0, len(units)), label="position")
            units.insert(at, _giant_unit(fmt, size))
        scanned = scan_damaged(fmt.name, fmt.pack(units), reader=reader)
        too_large = sum(_capped_measure(fmt, u) > cap for u in units)
    assert scanned.stats.skipped_by_reason["record_too_large"] == too_large
    assert all(r["n_chars"] <= cap for r in scanned.read)


# ----------------------------------------------------------------------------------------------------------
# Parquet: the footer, and columns of the wrong type
# ----------------------------------------------------------------------------------------------------------


def _footer_start(data: bytes) -> int:
    return len(data) - 8 - int.from_bytes(data[-8:-4], "little")


@fuzz(25)
@given(data=st.data())
def test_parquet_footer_damage(data):
    valid = valid_bytes(PARQUET)
    start = _footer_start(valid)
    pairs = st.lists(st.tuples(st.integers(start, len(valid) - 1), st.integers(1, 255)), min_size=1, max_size=4)
    damage = data.draw(pairs.map(lambda ps: Flip(tuple(p[0] for p in ps), tuple(p[1] for p in ps))), label="damage")
    scan_damaged(PARQUET.name, damage(valid))


N_ROWS = 5
_TEXTS = [f"Row {i}: a story about a helpful robot and a lighthouse keeper." for i in range(N_ROWS)]
# column name -> ways to build that column (all N_ROWS long), the right type first
COLUMN_VARIANTS: dict[str, list[Callable[[], pa.Array]]] = {
    "text": [
        lambda: pa.array(_TEXTS),
        lambda: pa.array(_TEXTS, pa.large_string()),
        lambda: pa.array([None, *_TEXTS[1:]]),
        lambda: pa.array(_TEXTS).dictionary_encode(),
        lambda: pa.array([t.encode() for t in _TEXTS], pa.binary()),
        lambda: pa.array([b"\xff\xfe" + t.encode("utf-16-le") for t in _TEXTS], pa.binary()),
        lambda: pa.array(range(N_ROWS), pa.int64()),
        lambda: pa.array([0.5, float("nan"), float("inf"), -0.0, 1e300]),
        lambda: pa.array([True, False, None, True, False]),
        lambda: pa.nulls(N_ROWS),
        lambda: pa.array([[t] for t in _TEXTS]),
        lambda: pa.array([{"text": t} for t in _TEXTS]),
        lambda: pa.array([{"a": t} for t in _TEXTS], pa.map_(pa.string(), pa.string())),
        lambda: pa.array(range(N_ROWS), pa.timestamp("s")),
        lambda: pa.array(["", " ", "\x00", "\ufeff", "\u2028"]),
    ],
    "metadata": [
        lambda: pa.array([{"url": page_url(i)} for i in range(N_ROWS)]),
        lambda: pa.array([page_url(i) for i in range(N_ROWS)]),
        lambda: pa.array(range(N_ROWS)),
        lambda: pa.array([[page_url(i)] for i in range(N_ROWS)]),
        lambda: pa.array([{"url": i} for i in range(N_ROWS)]),
        lambda: pa.array([{"url": {"deeper": page_url(i)}} for i in range(N_ROWS)]),
        lambda: pa.array([{"text": "nested text", "url": None} for _ in range(N_ROWS)]),
        lambda: pa.nulls(N_ROWS),
    ],
    "id": [
        lambda: pa.array([f"doc-{i}" for i in range(N_ROWS)]),
        lambda: pa.array(range(N_ROWS)),
        lambda: pa.array([[i] for i in range(N_ROWS)]),
        lambda: pa.array([b"\xff" * i for i in range(N_ROWS)], pa.binary()),
        lambda: pa.array([page_url(i) for i in range(N_ROWS)]),
        lambda: pa.array([float("nan")] * N_ROWS),
    ],
    "url": [
        lambda: pa.array([page_url(i) for i in range(N_ROWS)]),
        lambda: pa.array(range(N_ROWS)),
        lambda: pa.array([{"href": page_url(i)} for i in range(N_ROWS)]),
        lambda: pa.array(["not a url", "", "http://", "https://[::1", "https://exa mple.com/"]),
    ],
    "timestamp": [
        lambda: pa.array(range(N_ROWS), pa.timestamp("ms")),
        lambda: pa.array(["2019-04-21T12:00:00Z", "yesterday", "", "9999-99-99", "\x00"]),
        lambda: pa.array([[1]] * N_ROWS),
    ],
}


@st.composite
def parquet_tables(draw: st.DrawFn) -> pa.Table:
    """A table with some of the known columns, each of a drawn (often wrong) type; names may repeat."""
    names = draw(st.lists(st.sampled_from(sorted(COLUMN_VARIANTS)), min_size=1, max_size=6))
    arrays = [draw(st.sampled_from(COLUMN_VARIANTS[name]))() for name in names]
    return pa.Table.from_arrays(arrays, names=names)


@fuzz(40)
@given(table=parquet_tables(), row_group_size=st.integers(1, N_ROWS))
def test_parquet_wrong_column_types(table, row_group_size):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.parquet"
        pq.write_table(table, path, row_group_size=row_group_size)
        data = path.read_bytes()
    scanned = scan_damaged(PARQUET.name, data)
    stats = scanned.stats
    if stats.status == "ok":
        assert stats.records_total == N_ROWS, stats
