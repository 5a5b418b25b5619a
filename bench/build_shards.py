"""Build large Common-Crawl-style benchmark shards from the real pages in ``../shared/corpora``.

Two kinds of shard are built, both as one gzip member per record (as Common Crawl writes them, zlib level 6,
which is what Java's ``GZIPOutputStream`` uses):

* **WET** (``*.warc.wet.gz``): the real warcinfo record of a 2024 CC WET file, then ``conversion`` records.
  Their text is the real page text of the corpora: the ``conversion`` records of the real CC WET files in
  ``commoncrawl/cc/`` and every document of ``web_jsonl/*.json(l).gz`` (Dolma/CCNet/C4 page text, which is
  itself extracted from CC WET/WARC), each wrapped into a ``conversion`` record with CC's header fields
  (the 27 documents with empty text are left out: 744 records in all).
* **WARC** (``*.warc.gz``): every record (warcinfo excepted) of the real Common Crawl WARC files in
  ``commoncrawl/cc/`` and of the two 2024 wget crawls in ``commoncrawl/other_warc/dolma__sample-*.warc.gz``
  (the HTML-rich non-CC samples): request / response / metadata / resource records with their real HTML,
  preceded by one real CC warcinfo record. Responses with an HTTP ``Content-Encoding`` are left out (one
  record), so that the scanner and the plain resiliparse baseline (which does not decode) see the same HTML.

The pool of records is repeated, re-shuffled for every copy with a seeded ``random.Random``, and every copy
gets fresh ``WARC-Record-ID`` values and a ``bench_copy=N`` query parameter on ``WARC-Target-URI`` (copy 0 keeps
the original URI), so no two records of a shard are identical. Records are appended until the *compressed* file
reaches the requested size (``MB`` = 10^6 bytes). Building is deterministic: a shard of 50 MB is a prefix of the
200 MB shard built with the same seed.

* **mixed** (``*.warc.wet.gz``): the WET shard's records, with about 2% of records drawn from the Project
  Gutenberg books with robots or thinking machines (``fiction/ai_themed/``) and 0.5% from the books without
  (``fiction/negatives/``): consecutive chunks of about 4,000 characters, cut at paragraph breaks, as
  ``conversion`` records with a ``urn:bench:gutenberg:<file>:<chunk>`` URI. The benchmark of the classification
  cascade (``bench/cascade.py``) runs on it: web text where the trope-bearing fiction is rare, as in a crawl.

Shards are cached (``.bench-cache/`` at the repository root, gitignored) with a ``.json`` sidecar describing
them; a cached shard is reused when its sidecar matches the requested parameters.

Usage::

    python bench/build_shards.py --kind wet --mb 200
    python bench/build_shards.py --kind warc --mb 100 --cache /tmp/shards
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import io
import json
import random
import re
import sys
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CORPORA = REPO.parent / "shared" / "corpora"
DEFAULT_CACHE = REPO / ".bench-cache"
BUILDER_VERSION = 1  # bump when the shard content changes, so cached shards are rebuilt
DEFAULT_SEED = 20240601

WET_SOURCES = [
    "commoncrawl/cc/whirlwind__CC-MAIN-2024-22.warc.wet.gz",
    "commoncrawl/cc/eugeneware__CC-MAIN-20140820021334-00006.warc.wet",
]
WET_WARCINFO_SOURCE = "commoncrawl/cc/whirlwind__CC-MAIN-2024-22.warc.wet.gz"
JSONL_GLOB = "web_jsonl/*.json*.gz"
WARC_SOURCES = [
    "commoncrawl/cc/resiliparse__warcfile_CC-MAIN-2020-34.warc.gz",
    "commoncrawl/cc/whirlwind__CC-MAIN-2024-22.warc.gz",
    "commoncrawl/cc/eugeneware__CC-MAIN-20140820021334-00006.warc",
    "commoncrawl/cc/jwarc__cc.warc.gz",
    "commoncrawl/other_warc/dolma__sample-0000.warc.gz",
    "commoncrawl/other_warc/dolma__sample-0001.warc.gz",
]
WARC_WARCINFO_SOURCE = "commoncrawl/cc/whirlwind__CC-MAIN-2024-22.warc.gz"
LANG3 = {"en": "eng"}


# -- reading the real records -----------------------------------------------------------------------------------
@dataclass(slots=True)
class Record:
    """One WARC record: header lines (without the version line) and the block, as bytes."""

    headers: list[tuple[str, str]]
    block: bytes

    def get(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None


def read_records(path: Path) -> Iterator[Record]:
    """The records of a (possibly gzip-compressed) WARC file, framed by Content-Length (stdlib only)."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    f = io.BytesIO(data)
    while True:
        line = f.readline()
        if not line:
            return
        if not line.strip():
            continue
        if not line.startswith(b"WARC/"):
            raise ValueError(f"{path}: expected a WARC/ line, got {line[:40]!r}")
        headers: list[tuple[str, str]] = []
        for raw in iter(f.readline, b""):
            if raw in (b"\r\n", b"\n"):
                break
            key, _, value = raw.decode("utf-8").partition(":")
            headers.append((key.strip(), value.strip()))
        length = int(next(v for k, v in headers if k.lower() == "content-length"))
        yield Record(headers, f.read(length))


def block_digest(block: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(block).digest()).decode("ascii")


def _jsonl_records(path: Path) -> Iterator[Record]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            doc = json.loads(line)
            text = doc.get("text") or ""
            if not text.strip():
                continue
            meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
            url = doc.get("url") or meta.get("warc_url") or meta.get("url")
            if not url and str(doc.get("id", "")).startswith(("http://", "https://")):
                url = doc["id"]
            if not url:  # no URL in the source document: say so rather than invent one
                url = f"urn:bench:{path.name}:{n}"
            date = doc.get("date") or meta.get("warc_date") or doc.get("created") or "2019-07-17T12:00:00Z"
            date = re.sub(r"\.\d+", "", str(date)).replace("+00:00", "Z")
            block = text.encode("utf-8")
            headers = [
                ("WARC-Type", "conversion"),
                ("WARC-Target-URI", url),
                ("WARC-Date", date),
                ("WARC-Record-ID", ""),
                ("WARC-Refers-To", ""),
                ("WARC-Block-Digest", block_digest(block)),
            ]
            lang = LANG3.get(str(meta.get("language", "")))
            if lang:
                headers.append(("WARC-Identified-Content-Language", lang))
            headers += [("Content-Type", "text/plain"), ("Content-Length", str(len(block)))]
            yield Record(headers, block)


BOOK_SHARE = 0.02  # of a mixed shard's records: chunks of the Gutenberg books with robots / thinking machines
NEGATIVE_BOOK_SHARE = 0.005  # chunks of the books without
BOOK_CHUNK = 4000  # characters, cut at a paragraph break


def _book_chunks(path: Path) -> Iterator[Record]:
    text = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
    start = 0
    n = 0
    while start < len(text):
        cut = text.find("\n\n", start + BOOK_CHUNK)
        end = len(text) if cut < 0 else cut + 2
        block = text[start:end].encode("utf-8")
        if block.strip():
            yield Record(
                [
                    ("WARC-Type", "conversion"),
                    ("WARC-Target-URI", f"urn:bench:gutenberg:{path.name}:{n}"),
                    ("WARC-Date", "2019-07-17T12:00:00Z"),
                    ("WARC-Record-ID", ""),
                    ("WARC-Refers-To", ""),
                    ("WARC-Block-Digest", block_digest(block)),
                    ("Content-Type", "text/plain"),
                    ("Content-Length", str(len(block))),
                ],
                block,
            )
            n += 1
        start = end


def book_pools(corpora: Path) -> tuple[list[Record], list[Record]]:
    """Chunks of the books with AI themes, and of the books without, in file order."""
    themed = [r for p in sorted((corpora / "fiction/ai_themed").glob("*.txt")) for r in _book_chunks(p)]
    negatives = [r for p in sorted((corpora / "fiction/negatives").glob("*.txt")) for r in _book_chunks(p)]
    return themed, negatives


def wet_pool(corpora: Path) -> tuple[Record, list[Record]]:
    """(the warcinfo record, the conversion records) a WET shard is made of."""
    warcinfo = next(r for r in read_records(corpora / WET_WARCINFO_SOURCE) if r.get("WARC-Type") == "warcinfo")
    pool = [r for src in WET_SOURCES for r in read_records(corpora / src) if r.get("WARC-Type") == "conversion"]
    for path in sorted(corpora.glob(JSONL_GLOB)):
        pool.extend(_jsonl_records(path))
    return warcinfo, pool


def warc_pool(corpora: Path) -> tuple[Record, list[Record]]:
    """(the warcinfo record, the other records) a WARC shard is made of."""
    warcinfo = next(r for r in read_records(corpora / WARC_WARCINFO_SOURCE) if r.get("WARC-Type") == "warcinfo")
    pool: list[Record] = []
    for src in WARC_SOURCES:
        for rec in read_records(corpora / src):
            if rec.get("WARC-Type") == "warcinfo":
                continue
            if rec.get("WARC-Type") == "response" and _http_content_encoding(rec.block):
                continue
            pool.append(rec)
    return warcinfo, pool


def _http_content_encoding(block: bytes) -> bool:
    head = block.split(b"\r\n\r\n", 1)[0].lower()
    return re.search(rb"^content-encoding:[ \t]*(?!identity)\S", head, re.MULTILINE) is not None


# -- writing -----------------------------------------------------------------------------------------------------
_ID_FIELDS = ("warc-record-id", "warc-refers-to", "warc-concurrent-to", "warc-warcinfo-id")


def _varied_uri(uri: str, copy: int) -> str:
    if copy == 0 or not uri:
        return uri
    if uri.startswith("urn:"):
        return f"{uri}:{copy}"
    bracketed = uri.startswith("<") and uri.endswith(">")
    bare = uri[1:-1] if bracketed else uri
    base, hash_, frag = bare.partition("#")
    base += ("&" if "?" in base else "?") + f"bench_copy={copy}"
    out = base + hash_ + frag
    return f"<{out}>" if bracketed else out


def serialise(record: Record, rng: random.Random | None, copy: int, ids: dict[str, str] | None) -> bytes:
    """The record as WARC bytes; with ``rng``, its record ids are replaced (consistently within ``ids``)."""
    lines = ["WARC/1.0"]
    for key, value in record.headers:
        lkey = key.lower()
        if rng is not None and ids is not None and lkey in _ID_FIELDS:
            # the same old id maps to the same new id within one copy (WARC-Concurrent-To stays consistent)
            if not value or value not in ids:
                fresh = f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}>"
                if not value:
                    value = fresh
                else:
                    ids[value] = fresh
            value = ids.get(value, value)
        elif lkey == "warc-target-uri":
            value = _varied_uri(value, copy)
        elif lkey == "content-length":
            value = str(len(record.block))
        lines.append(f"{key}: {value}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    return head + record.block + b"\r\n\r\n"


def _member(data: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip wrapper, mtime 0: deterministic output
    return comp.compress(data) + comp.flush()


def shard_path(cache: Path, kind: str, mb: float, seed: int) -> Path:
    suffix = ".warc.gz" if kind == "warc" else ".warc.wet.gz"
    return cache / f"bench-{kind}-{mb:g}MB-seed{seed}{suffix}"


def build_shard(
    kind: str,
    mb: float,
    *,
    cache: Path = DEFAULT_CACHE,
    seed: int = DEFAULT_SEED,
    corpora: Path = CORPORA,
    log: bool = True,
) -> tuple[Path, dict[str, Any]]:
    """Build (or reuse from ``cache``) a shard of at least ``mb`` MB compressed; returns (path, description)."""
    cache.mkdir(parents=True, exist_ok=True)
    path = shard_path(cache, kind, mb, seed)
    sidecar = path.with_name(path.name + ".json")
    wanted = {"builder_version": BUILDER_VERSION, "kind": kind, "target_mb": mb, "seed": seed}
    if path.exists() and sidecar.exists():
        cached: dict[str, Any] = json.loads(sidecar.read_text())
        if {k: cached.get(k) for k in wanted} == wanted and cached.get("compressed_bytes") == path.stat().st_size:
            return path, cached
    started = time.perf_counter()
    warcinfo, pool = (warc_pool if kind == "warc" else wet_pool)(corpora)
    books = book_pools(corpora) if kind == "mixed" else ([], [])
    next_book = [0, 0]
    target = int(mb * 1_000_000)
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    raw_bytes = 0
    records = 0
    copies = 0
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as out:
        data = serialise(warcinfo, None, 0, None)
        out.write(_member(data))
        raw_bytes += len(data)
        records += 1
        counts["warcinfo"] = 1
        written = out.tell()
        while written < target:
            order = list(range(len(pool)))
            rng.shuffle(order)
            ids: dict[str, str] = {}
            for i in order:
                rec = pool[i]
                if kind == "mixed":  # a Gutenberg chunk in place of this web record, now and then
                    draw = rng.random()
                    shelf = 0 if draw < BOOK_SHARE else (1 if draw < BOOK_SHARE + NEGATIVE_BOOK_SHARE else -1)
                    if shelf >= 0 and books[shelf]:
                        rec = books[shelf][next_book[shelf] % len(books[shelf])]
                        next_book[shelf] += 1
                        name = ("gutenberg_ai_themed", "gutenberg_negatives")[shelf]
                        counts[name] = counts.get(name, 0) + 1
                data = serialise(rec, rng, copies, ids)
                member = _member(data)
                out.write(member)
                written += len(member)
                raw_bytes += len(data)
                records += 1
                wtype = (rec.get("WARC-Type") or "?").lower()
                counts[wtype] = counts.get(wtype, 0) + 1
                if written >= target:
                    break
            copies += 1
    tmp.replace(path)
    info: dict[str, Any] = {
        **wanted,
        "path": str(path),
        "compressed_bytes": path.stat().st_size,
        "decompressed_bytes": raw_bytes,
        "records": records,
        "records_by_type": dict(sorted(counts.items())),
        "pool_records": len(pool),
        "copies": copies,
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    sidecar.write_text(json.dumps(info, indent=2) + "\n")
    if log:
        print(
            f"built {path.name}: {info['compressed_bytes'] / 1e6:.1f} MB compressed, "
            f"{raw_bytes / 1e6:.1f} MB decompressed, {records} records in {info['build_seconds']} s",
            file=sys.stderr,
        )
    return path, info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=("wet", "warc", "mixed"), required=True)
    parser.add_argument("--mb", type=float, required=True, help="size of the compressed shard, MB (10^6 bytes)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where shards are kept")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--corpora", type=Path, default=CORPORA)
    args = parser.parse_args(argv)
    _, info = build_shard(args.kind, args.mb, cache=args.cache, seed=args.seed, corpora=args.corpora)
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
