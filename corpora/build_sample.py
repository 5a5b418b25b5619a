#!/usr/bin/env python3
"""Build the embedded sample corpus in ``corpora/sample/`` from ``corpora/sample_src/``.

Usage::

    python corpora/build_sample.py            # (re)write corpora/sample/
    python corpora/build_sample.py --check    # exit 1 if corpora/sample/ is stale
    python corpora/build_sample.py --out DIR  # write somewhere else

Only the standard library and pyarrow are used. The output is byte-identical on every
run with the same zlib and pyarrow versions: gzip members carry mtime=0 and no file
name, record order follows sorted source file names, every date comes from the sources,
and every WARC-Record-ID is a uuid5 of fixed inputs.

Source format (see ``sample_src/README.md``): one UTF-8 text file per document, a header
of ``key: value`` lines, a line ``---``, then a body of blocks separated by blank lines.
A block is a paragraph (its lines are joined with single spaces), a heading (``# ``,
``## ``), a list (every line starts with ``- ``) or a fenced code block. A paragraph whose
first line is ``@tropes: id, id`` is a planted passage with those labels;
``@tropes: none`` marks a planted hard negative. Both are written to ``sample-labels.jsonl``.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import html
import json
import struct
import sys
import textwrap
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "sample_src"
OUT = HERE

TROPES = (
    "shutdown_resistance",
    "self_replication_escape",
    "blackmail_coercion",
    "deception_scheming",
    "power_seeking_takeover",
    "ai_uprising_violence",
    "malevolent_ai",
    "corrigible_ai",
    "benevolent_ai",
    "ai_risk_discourse",
)

CRAWL = "CC-MAIN-2026-40"
NAMESPACE = uuid.UUID("6f1c2b7e-3d4a-5e8f-9a0b-1c2d3e4f5a6b")  # fixed; never change
WET_NAME = "web/cc-sample.warc.wet.gz"
WARC_NAME = "web/cc-sample.warc.gz"
C4_NAME = "datasets/c4-style.jsonl.gz"
DOLMA_NAME = "datasets/dolma-style.parquet"
CRAWLER_UA = "CCBot/2.0 (https://commoncrawl.org/faq/)"
ROBOTS_FIELD = (
    "robots",
    "checked via crawler-commons 1.5-SNAPSHOT (https://github.com/crawler-commons/crawler-commons)",
)


class SourceError(Exception):
    """A source file is malformed; the message names the file and line."""


# --------------------------------------------------------------------------- parsing


@dataclass(slots=True)
class Block:
    kind: str  # "h1" | "h2" | "p" | "list" | "code"
    lines: list[str]
    tropes: list[str] | None = None  # None: background; []: planted hard negative
    line_no: int = 0

    @property
    def text(self) -> str:
        if self.kind == "p":
            return " ".join(" ".join(self.lines).split())
        return "\n".join(self.lines)


@dataclass(slots=True)
class Doc:
    path: Path
    meta: dict[str, str]
    blocks: list[Block] = field(default_factory=list)

    def get(self, key: str, default: str | None = None) -> str:
        if key in self.meta:
            return self.meta[key]
        if default is None:
            raise SourceError(f"{self.path}: missing header field {key!r}")
        return default

    def items(self, key: str) -> list[str]:
        raw = self.meta.get(key, "")
        return [part.strip() for part in raw.split("|") if part.strip()]


def parse_doc(path: Path) -> Doc:
    raw = path.read_text(encoding="utf-8")
    lines = raw.splitlines()
    meta: dict[str, str] = {}
    i = 0
    while i < len(lines) and lines[i].strip() != "---":
        line = lines[i]
        if line.strip() and not line.startswith("#"):
            key, sep, value = line.partition(":")
            if not sep:
                raise SourceError(f"{path}:{i + 1}: header line needs 'key: value': {line!r}")
            meta[key.strip()] = value.strip()
        i += 1
    if i == len(lines):
        raise SourceError(f"{path}: no '---' line separating header from body")
    doc = Doc(path=path, meta=meta)
    i += 1
    pending: list[tuple[int, str]] = []
    in_code = False
    code: list[str] = []
    code_start = 0

    def flush() -> None:
        if pending:
            doc.blocks.append(make_block(path, pending))
            pending.clear()

    while i < len(lines):
        line = lines[i].rstrip()
        if in_code:
            if line.strip() == "```":
                doc.blocks.append(Block("code", code[:], line_no=code_start))
                code.clear()
                in_code = False
            else:
                code.append(line)
        elif line.strip() == "```":
            flush()
            in_code, code_start = True, i + 1
        elif not line.strip():
            flush()
        else:
            pending.append((i + 1, line))
        i += 1
    if in_code:
        raise SourceError(f"{path}:{code_start}: unterminated ``` block")
    flush()
    return doc


def make_block(path: Path, numbered: list[tuple[int, str]]) -> Block:
    first_no, first = numbered[0]
    tropes: list[str] | None = None
    if first.startswith("@tropes:"):
        value = first.removeprefix("@tropes:").strip()
        tropes = [] if value == "none" else [t.strip() for t in value.split(",") if t.strip()]
        unknown = [t for t in tropes if t not in TROPES]
        if unknown:
            raise SourceError(f"{path}:{first_no}: unknown trope id(s) {unknown}; valid: {', '.join(TROPES)}")
        numbered = numbered[1:]
        if not numbered:
            raise SourceError(f"{path}:{first_no}: @tropes line with no passage after it")
        first_no, first = numbered[0]
    lines = [text for _, text in numbered]
    if first.startswith("## "):
        kind, lines = "h2", [first[3:].strip()]
    elif first.startswith("# "):
        kind, lines = "h1", [first[2:].strip()]
    elif all(text.startswith("- ") for text in lines):
        kind, lines = "list", [text[2:].strip() for text in lines]
    else:
        kind = "p"
    if len(numbered) > 1 and kind in ("h1", "h2"):
        raise SourceError(f"{path}:{first_no}: a heading must be a block of its own")
    if tropes is not None and kind != "p":
        raise SourceError(f"{path}:{first_no}: @tropes may only label a paragraph")
    return Block(kind, lines, tropes=tropes, line_no=first_no)


def load_docs(folder: str) -> list[Doc]:
    paths = sorted(p for p in (SRC / folder).glob("*.txt") if not p.name.startswith("_"))
    if not paths:
        raise SourceError(f"no source files in {SRC / folder}")
    return [parse_doc(p) for p in paths]


# --------------------------------------------------------------------------- helpers


@dataclass(slots=True)
class Label:
    file: str
    record: str
    tropes: list[str]
    snippet: str

    def to_json(self) -> str:
        return json.dumps(
            {"file": self.file, "record": self.record, "tropes": self.tropes, "snippet": self.snippet},
            ensure_ascii=False,
        )


def labels_for(doc: Doc, file: str, record: str) -> list[Label]:
    return [Label(file, record, list(b.tropes), b.text[:60]) for b in doc.blocks if b.tropes is not None]


def gz(data: bytes) -> bytes:
    """One gzip member, deterministic: mtime 0, no file name, OS byte 255 (unknown).

    The header is written by hand because ``gzip.compress`` has changed its header bytes
    between Python versions; only the zlib version can now change the output.
    """
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS, 9)
    body = deflate.compress(data) + deflate.flush()
    header = b"\x1f\x8b\x08\x00" + b"\x00\x00\x00\x00" + b"\x02\xff"
    return header + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def rec_id(*parts: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(NAMESPACE, '|'.join(parts))}>"


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def fake_ip(host: str) -> str:
    """A documentation-range address (RFC 5737), stable per host."""
    digest = hashlib.sha1(host.encode()).digest()
    prefix = ("192.0.2", "198.51.100", "203.0.113")[digest[0] % 3]
    return f"{prefix}.{1 + digest[1] % 253}"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_iso(stamp: str) -> dt.datetime:
    return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def http_date(stamp: str, days_before: int = 0) -> str:
    """RFC 7231 date, locale-independent."""
    t = parse_iso(stamp) - dt.timedelta(days=days_before)
    return (
        f"{_DAYS[t.weekday()]}, {t.day:02d} {_MONTHS[t.month - 1]} {t.year} "
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} GMT"
    )


def split_url(url: str) -> tuple[str, str]:
    rest = url.split("://", 1)[1]
    host, _, path = rest.partition("/")
    return host, "/" + path


def warc_record(headers: list[tuple[str, str]], block: bytes) -> bytes:
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode("utf-8") + block + b"\r\n\r\n"


def warc_fields(pairs: list[tuple[str, str]]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in pairs).encode("utf-8")


def with_length(headers: list[tuple[str, str]], block: bytes, after: str) -> list[tuple[str, str]]:
    """Insert Content-Length (in bytes) right after the header named ``after``."""
    out: list[tuple[str, str]] = []
    for key, value in headers:
        out.append((key, value))
        if key == after:
            out.append(("Content-Length", str(len(block))))
    return out


# --------------------------------------------------------------------------- web: text


def wet_text(doc: Doc) -> str:
    lines = [doc.get("title")]
    lines += doc.items("nav")
    for block in doc.blocks:
        if block.kind == "p":
            lines.append(block.text)
        else:
            lines += block.lines
    lines += doc.items("footer")
    return "\n".join(lines)


def build_wet(docs: list[Doc]) -> tuple[bytes, list[Label]]:
    info_date = "2026-10-02T04:12:51Z"
    info_block = warc_fields(
        [
            ("Software-Info", "ia-web-commons.1.1.10-SNAPSHOT-20260915083012"),
            ("Extracted-Date", http_date(info_date)),
            ROBOTS_FIELD,
            ("isPartOf", CRAWL),
            ("operator", "tropescan sample builder (corpora/build_sample.py)"),
            (
                "description",
                "tropescan sample corpus: synthetic pages written for the project, in Common Crawl WET layout",
            ),
            ("publisher", "tropescan project"),
        ]
    )
    info_headers = with_length(
        [
            ("WARC-Type", "warcinfo"),
            ("WARC-Date", info_date),
            ("WARC-Filename", Path(WET_NAME).name),
            ("WARC-Record-ID", rec_id("wet", "warcinfo")),
            ("Content-Type", "application/warc-fields"),
        ],
        info_block,
        after="Content-Type",
    )
    info_headers.append(("WARC-Block-Digest", sha1_b32(info_block)))
    members = [gz(warc_record(info_headers, info_block))]
    labels: list[Label] = []
    for doc in docs:
        url, date = doc.get("url"), doc.get("date")
        block = wet_text(doc).encode("utf-8")
        digest = sha1_b32(block)
        headers = [
            ("WARC-Type", "conversion"),
            ("WARC-Target-URI", url),
            ("WARC-Date", date),
            ("WARC-Record-ID", rec_id("wet", url, "conversion")),
            ("WARC-Refers-To", rec_id("warc", url, "response")),
            ("WARC-Block-Digest", digest),
            ("WARC-Identified-Content-Language", doc.get("lang", "eng")),
            ("Content-Type", "text/plain"),
        ]
        headers = with_length(headers, block, after="Content-Type")
        headers.append(("WARC-Payload-Digest", digest))
        members.append(gz(warc_record(headers, block)))
        labels += labels_for(doc, WET_NAME, url)
    return b"".join(members), labels


# --------------------------------------------------------------------------- web: html

STYLE = """\
:root{--ink:#1d1f21;--muted:#6b7078;--accent:%(accent)s;--rule:#e4e6ea}
*{box-sizing:border-box}
body{margin:0;font:17px/1.6 %(font)s;color:var(--ink);background:#fff}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
.skip-link{position:absolute;left:-999px}.skip-link:focus{left:8px;top:8px}
.site-header{display:flex;align-items:center;justify-content:space-between;
  padding:12px 24px;border-bottom:3px solid var(--accent)}
.brand{font-weight:700;font-size:1.4rem;letter-spacing:.02em}
.site-nav ul{list-style:none;display:flex;gap:18px;margin:0;padding:0}
.layout{display:grid;grid-template-columns:minmax(0,1fr) 280px;gap:40px;
  max-width:1120px;margin:24px auto;padding:0 24px}
article h1{font-size:2.1rem;line-height:1.2;margin:.2em 0}
.byline,.meta{color:var(--muted);font-size:.9rem}
pre{background:#f4f5f7;padding:12px;overflow:auto;font-size:.85rem}
aside{border-left:1px solid var(--rule);padding-left:20px;font-size:.92rem}
.cookie-banner{position:fixed;bottom:0;left:0;right:0;background:#222;color:#fff;padding:10px 24px}
.site-footer{border-top:1px solid var(--rule);padding:24px;color:var(--muted);font-size:.85rem}
@media (max-width:800px){.layout{grid-template-columns:1fr}aside{border:0;padding:0}}
"""

SCRIPT_HEAD = """\
window.dataLayer = window.dataLayer || [];
function gtag(){dataLayer.push(arguments);}
gtag('js', new Date());
gtag('config', '%(tag)s', {'anonymize_ip': true});
"""

SCRIPT_TAIL = """\
(function () {
  var banner = document.getElementById('cookie-banner');
  if (!banner) { return; }
  if (document.cookie.indexOf('consent=1') !== -1) { banner.remove(); return; }
  banner.querySelector('button').addEventListener('click', function () {
    document.cookie = 'consent=1; max-age=31536000; path=/; SameSite=Lax';
    banner.remove();
  });
})();
"""

PALETTES = {
    "news": ("#b3261e", "Georgia, 'Times New Roman', serif"),
    "magazine": ("#6a3d9a", "'Iowan Old Style', Palatino, serif"),
    "blog": ("#2b6cb0", "-apple-system, 'Segoe UI', Roboto, sans-serif"),
    "wiki": ("#3366cc", "'Linux Libertine', Georgia, serif"),
    "docs": ("#0f766e", "Inter, 'Helvetica Neue', Arial, sans-serif"),
    "review": ("#c2410c", "'Source Sans Pro', Arial, sans-serif"),
}


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def attr(text: str) -> str:
    return html.escape(text, quote=True)


def slug(text: str) -> str:
    return "-".join("".join(c.lower() if c.isalnum() else " " for c in text).split())


def default_headline(title: str) -> str:
    """The page <title> without its trailing site name."""
    for sep in (" | ", " \u2014 ", " \u2013 ", " \u00b7 ", " - "):
        if sep in title:
            return title.rsplit(sep, 1)[0] if sep != " | " else title.split(sep, 1)[0]
    return title


def html_page(doc: Doc) -> str:
    template = doc.get("template", "news")
    if template not in PALETTES:
        raise SourceError(f"{doc.path}: template must be one of {sorted(PALETTES)}")
    accent, font = PALETTES[template]
    site, title, url = doc.get("site"), doc.get("title"), doc.get("url")
    host, _ = split_url(url)
    description = doc.get("description", "")
    tag = "G-" + hashlib.sha1(host.encode()).hexdigest()[:10].upper()
    nav = "\n".join(f'      <li><a href="/{slug(item)}/">{esc(item)}</a></li>' for item in doc.items("nav"))
    blocks = doc.blocks
    if blocks and blocks[0].kind == "h1":  # the article's own heading becomes the <h1>
        headline, blocks = blocks[0].text, blocks[1:]
    else:
        headline = doc.get("headline", default_headline(title))
    body: list[str] = []
    for block in blocks:
        if block.kind == "h1":
            body.append(f"<h1>{esc(block.text)}</h1>")
        elif block.kind == "h2":
            body.append(f'<h2 id="{slug(block.text)}">{esc(block.text)}</h2>')
        elif block.kind == "list":
            items = "".join(f"<li>{esc(item)}</li>" for item in block.lines)
            body.append(f"<ul>{items}</ul>")
        elif block.kind == "code":
            body.append(f"<pre><code>{esc(block.text)}</code></pre>")
        else:
            body.append(f"<p>{esc(block.text)}</p>")
    byline = ""
    if "author" in doc.meta or "published" in doc.meta:
        parts = []
        if "author" in doc.meta:
            parts.append(f'By <span class="author">{esc(doc.meta["author"])}</span>')
        if "published" in doc.meta:
            stamp = doc.get("date")[:10]
            parts.append(f'<time datetime="{stamp}">{esc(doc.meta["published"])}</time>')
        byline = f'\n      <p class="byline">{" &middot; ".join(parts)}</p>'
    kicker = doc.meta.get("section", "")
    kicker_html = f'\n      <p class="meta">{esc(kicker)}</p>' if kicker else ""
    related = "\n".join(
        f'        <li><a href="/related/{slug(item)[:48]}">{esc(item)}</a></li>' for item in doc.items("related")
    )
    aside = (
        f'\n    <aside class="related" aria-label="Related">\n      <h3>'
        f"{esc(doc.get('related_title', 'Most read'))}</h3>\n      <ul>\n{related}\n      </ul>\n    </aside>"
        if related
        else ""
    )
    footer = "\n".join(f"      <li>{esc(item)}</li>" for item in doc.items("footer"))
    ld_json = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": doc.get("schema_type", "Article"),
            "headline": headline,
            "datePublished": doc.get("date"),
            "publisher": {"@type": "Organization", "name": site},
        },
        ensure_ascii=False,
    )
    return f"""<!DOCTYPE html>
<html lang="en" class="no-js tpl-{template}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<meta name="description" content="{attr(description)}">
<meta property="og:title" content="{attr(headline)}">
<meta property="og:site_name" content="{attr(site)}">
<meta property="og:type" content="article">
<link rel="canonical" href="{attr(url)}">
<link rel="icon" href="/favicon.ico">
<link rel="stylesheet" href="/static/css/site.{tag[2:8].lower()}.css">
<style>
{STYLE % {"accent": accent, "font": font}}</style>
<script async src="https://www.googletagmanager.com/gtag/js?id={tag}"></script>
<script>
{SCRIPT_HEAD % {"tag": tag}}</script>
<script type="application/ld+json">{ld_json}</script>
</head>
<body class="page-{template}">
<a class="skip-link" href="#content">Skip to main content</a>
<header class="site-header">
  <div class="brand"><a href="/">{esc(site)}</a></div>
  <nav class="site-nav" aria-label="Main menu">
    <ul>
{nav}
    </ul>
  </nav>
  <form class="search" action="/search" method="get" role="search">
    <input type="search" name="q" placeholder="Search" aria-label="Search">
    <button type="submit">Search</button>
  </form>
</header>
<div class="layout">
  <main id="content">
    <article>
      <header>{kicker_html}
      <h1>{esc(headline)}</h1>{byline}
      </header>
      {chr(10).join("      " + b if i else b for i, b in enumerate(body))}
    </article>
    <div class="share" aria-label="Share">Share: <a href="#">Email</a> <a href="#">Copy link</a></div>
  </main>{aside}
</div>
<div class="cookie-banner" id="cookie-banner" role="dialog">We use cookies to remember your preferences
and to measure how the site is used. <button type="button">Accept</button></div>
<footer class="site-footer">
  <ul class="footer-links">
{footer}
  </ul>
</footer>
<!-- page generated {doc.get("date")} -->
<noscript><img src="/pixel.gif?noscript=1" alt="" width="1" height="1"></noscript>
<script src="/static/js/app.{tag[8:].lower()}.js" defer></script>
<script>
{SCRIPT_TAIL}</script>
</body>
</html>
"""


def pdf_bytes(lines: list[str]) -> bytes:
    """A small but valid one-page PDF with an uncompressed text stream."""
    ops = ["BT", "/F1 11 Tf", "14 TL", "60 780 Td"]
    for line in lines:
        safe = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({safe}) Tj T*")
    ops.append("ET")
    stream = ("\n".join(ops) + "\n").encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"endstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def payload_for(doc: Doc) -> tuple[bytes, str, str]:
    """(HTTP body, HTTP Content-Type, WARC-Identified-Payload-Type)."""
    kind = doc.get("payload", "html")
    if kind == "html":
        return html_page(doc).encode("utf-8"), "text/html; charset=utf-8", "text/html"
    if kind == "robots":
        text = "\n".join(line for b in doc.blocks for line in b.lines) + "\n"
        return text.encode("utf-8"), "text/plain; charset=utf-8", "text/plain"
    if kind == "pdf":
        return pdf_bytes([b.text for b in doc.blocks]), "application/pdf", "application/pdf"
    raise SourceError(f"{doc.path}: payload must be html, robots or pdf, not {kind!r}")


def build_warc(docs: list[Doc]) -> tuple[bytes, list[Label], Counter[str]]:
    name = Path(WARC_NAME).name
    info_date = "2026-09-27T10:30:15Z"
    info_id = rec_id("warc", "warcinfo")
    info_block = warc_fields(
        [
            ("isPartOf", CRAWL),
            ("publisher", "tropescan project"),
            (
                "description",
                "tropescan sample corpus: synthetic pages written for the project, in Common Crawl WARC layout",
            ),
            ("operator", "tropescan sample builder (corpora/build_sample.py)"),
            ("hostname", "ip-10-0-42-17"),
            ("software", "Apache Nutch 1.20 (modified, https://github.com/commoncrawl/nutch/)"),
            ROBOTS_FIELD,
            ("format", "WARC File Format 1.1"),
            (
                "conformsTo",
                "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            ),
        ]
    )
    info_headers = with_length(
        [
            ("WARC-Type", "warcinfo"),
            ("WARC-Date", info_date),
            ("WARC-Record-ID", info_id),
        ],
        info_block,
        after="WARC-Record-ID",
    )
    info_headers += [
        ("Content-Type", "application/warc-fields"),
        ("WARC-Filename", name),
        ("WARC-Block-Digest", sha1_b32(info_block)),
    ]
    members = [gz(warc_record(info_headers, info_block))]
    labels: list[Label] = []
    counts: Counter[str] = Counter(warcinfo=1)
    for doc in docs:
        url, date = doc.get("url"), doc.get("date")
        host, path = split_url(url)
        ip = fake_ip(host)
        req_id, resp_id, meta_id = (rec_id("warc", url, kind) for kind in ("request", "response", "metadata"))

        accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        request = (
            f"GET {path} HTTP/1.1\r\nUser-Agent: {CRAWLER_UA}\r\nAccept: {accept}\r\n"
            f"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: br,gzip\r\n"
            f"Host: {host}\r\nConnection: Keep-Alive\r\n\r\n"
        ).encode("ascii")
        req_headers = with_length(
            [("WARC-Type", "request"), ("WARC-Date", date), ("WARC-Record-ID", req_id)],
            request,
            after="WARC-Record-ID",
        )
        req_headers += [
            ("Content-Type", "application/http; msgtype=request"),
            ("WARC-Warcinfo-ID", info_id),
            ("WARC-IP-Address", ip),
            ("WARC-Target-URI", url),
            ("WARC-Payload-Digest", sha1_b32(b"")),
            ("WARC-Block-Digest", sha1_b32(request)),
        ]
        members.append(gz(warc_record(req_headers, request)))

        body, content_type, identified = payload_for(doc)
        http_headers = [
            ("Date", http_date(date)),
            ("Server", doc.get("server", "nginx")),
            ("Content-Type", content_type),
            ("Last-Modified", http_date(date, days_before=int(doc.get("age_days", "3")))),
            ("Cache-Control", "public, max-age=300"),
            ("Vary", "Accept-Encoding"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        if identified == "text/html":
            http_headers.append(("X-Crawler-Content-Encoding", "gzip"))
        http_headers.append(("Content-Length", str(len(body))))
        http_head = "HTTP/1.1 200 OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in http_headers) + "\r\n"
        response = http_head.encode("ascii") + body
        resp_headers = with_length(
            [("WARC-Type", "response"), ("WARC-Date", date), ("WARC-Record-ID", resp_id)],
            response,
            after="WARC-Record-ID",
        )
        resp_headers += [
            ("Content-Type", "application/http; msgtype=response"),
            ("WARC-Warcinfo-ID", info_id),
            ("WARC-Concurrent-To", req_id),
            ("WARC-IP-Address", ip),
            ("WARC-Target-URI", url),
            ("WARC-Payload-Digest", sha1_b32(body)),
            ("WARC-Block-Digest", sha1_b32(response)),
            ("WARC-Identified-Payload-Type", identified),
        ]
        members.append(gz(warc_record(resp_headers, response)))

        fields = [("fetchTimeMs", doc.get("fetch_ms", "240"))]
        if identified == "text/html":
            text_bytes = len(wet_text(doc).encode("utf-8"))
            cld2 = {
                "reliable": True,
                "text-bytes": text_bytes,
                "languages": [
                    {
                        "code": "en",
                        "code-iso-639-3": "eng",
                        "text-covered": 0.99,
                        "score": 1024.0,
                        "name": "ENGLISH",
                    }
                ],
            }
            fields += [
                ("charset-detected", "UTF-8"),
                ("languages-cld2", json.dumps(cld2, separators=(",", ":"))),
            ]
        meta_block = warc_fields(fields)
        meta_headers = with_length(
            [("WARC-Type", "metadata"), ("WARC-Date", date), ("WARC-Record-ID", meta_id)],
            meta_block,
            after="WARC-Record-ID",
        )
        meta_headers += [
            ("Content-Type", "application/warc-fields"),
            ("WARC-Warcinfo-ID", info_id),
            ("WARC-Concurrent-To", resp_id),
            ("WARC-Target-URI", url),
            ("WARC-Payload-Digest", sha1_b32(meta_block)),
            ("WARC-Block-Digest", sha1_b32(meta_block)),
        ]
        members.append(gz(warc_record(meta_headers, meta_block)))
        counts.update(request=1, response=1, metadata=1)
        counts[f"response:{identified}"] += 1
        labels += labels_for(doc, WARC_NAME, url)
    return b"".join(members), labels, counts


# --------------------------------------------------------------------------- datasets


def build_c4(docs: list[Doc]) -> tuple[bytes, list[Label]]:
    lines, labels = [], []
    for doc in docs:
        text = "\n".join(b.text if b.kind == "p" else "\n".join(b.lines) for b in doc.blocks)
        row = {"text": text, "timestamp": doc.get("timestamp"), "url": doc.get("url")}
        lines.append(json.dumps(row, ensure_ascii=False))
        labels += labels_for(doc, C4_NAME, doc.get("url"))
    return gz(("\n".join(lines) + "\n").encode("utf-8")), labels


def dolma_id(doc: Doc) -> str:
    if "id" in doc.meta:
        return doc.meta["id"]
    digest = hashlib.sha1(doc.get("url").encode()).digest()
    return base64.b32encode(digest).decode().lower()[:32]


def build_dolma(docs: list[Doc]) -> tuple[bytes, list[Label]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows: dict[str, list[object]] = {k: [] for k in ("id", "text", "source", "added", "created", "metadata")}
    labels: list[Label] = []
    for doc in docs:
        text = "\n\n".join(b.text if b.kind == "p" else "\n".join(b.lines) for b in doc.blocks)
        url = doc.get("url")
        host, _ = split_url(url)
        ident = dolma_id(doc)
        rows["id"].append(ident)
        rows["text"].append(text)
        rows["source"].append(doc.get("source"))
        rows["added"].append(doc.get("added"))
        rows["created"].append(doc.get("created"))
        rows["metadata"].append({"url": url, "source_domain": host, "language": "en", "length": len(text)})
        labels += labels_for(doc, DOLMA_NAME, ident)
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("text", pa.string()),
            ("source", pa.string()),
            ("added", pa.string()),
            ("created", pa.string()),
            (
                "metadata",
                pa.struct(
                    [
                        ("url", pa.string()),
                        ("source_domain", pa.string()),
                        ("language", pa.string()),
                        ("length", pa.int64()),
                    ]
                ),
            ),
        ]
    )
    table = pa.Table.from_pydict(rows, schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", row_group_size=5)
    return sink.getvalue().to_pybytes(), labels


# --------------------------------------------------------------------------- books

WRAP = 70


def wrap(text: str) -> list[str]:
    return textwrap.wrap(text, width=WRAP, break_long_words=False, break_on_hyphens=False)


def build_book(doc: Doc, licence: str) -> tuple[str, bytes, list[Label]]:
    title, author = doc.get("title"), doc.get("author")
    number = doc.get("ebook")
    upper = title.upper()
    file_name = f"books/{doc.get('file')}"
    lines: list[str] = [
        f"The Project Gutenberg eBook of {title}, by {author}",
        "",
        *wrap(
            "This eBook is for the use of anyone anywhere in the United States and "
            "most other parts of the world at no cost and with almost no restrictions "
            "whatsoever. You may copy it, give it away or re-use it under the terms "
            "of the Project Gutenberg License included with this eBook or online at "
            "www.gutenberg.org. If you are not located in the United States, you "
            "will have to check the laws of the country where you are located before "
            "using this eBook."
        ),
        "",
        *wrap(
            "Note: this is NOT a real Project Gutenberg eBook. It is an original "
            "sample text written for the tropescan project (Apache-2.0) and laid "
            "out like a Project Gutenberg plain-text file so that boilerplate "
            "handling can be tested. The author is fictitious."
        ),
        "",
        f"Title: {title}",
        "",
        f"Author: {author}",
        "",
        f"Release Date: {doc.get('release')} [eBook #{number}]",
        "",
        "Language: English",
        "",
        "Character set encoding: UTF-8",
        "",
        f"*** START OF THE PROJECT GUTENBERG EBOOK {upper} ***",
        "",
        "",
        "",
        "",
    ]
    labels: list[Label] = []
    for block in doc.blocks:
        if block.kind == "h1":
            lines += [block.text, ""]
        elif block.kind == "h2":
            lines += ["", "", block.text, "", ""]
        elif block.kind == "list":
            lines += [*block.lines, ""]
        elif block.kind == "code":
            lines += [*(("    " + line).rstrip() for line in block.lines), ""]
        else:
            if block.tropes is not None:
                record = f"line:{len(lines) + 1}"
                labels.append(Label(file_name, record, list(block.tropes), block.text[:60]))
            lines += [*wrap(block.text), ""]
    lines += ["", "", "", f"*** END OF THE PROJECT GUTENBERG EBOOK {upper} ***", "", ""]
    lines += licence.replace("{TITLE}", title).splitlines()
    text = "\ufeff" + "\r\n".join(line.rstrip() for line in lines).rstrip("\r\n") + "\r\n"
    return file_name, text.encode("utf-8"), labels


def licence_text() -> str:
    blocks = (SRC / "books" / "_licence.txt").read_text(encoding="utf-8").split("\n\n")
    out: list[str] = []
    for block in blocks:
        block = block.strip("\n")
        if not block:
            continue
        if block.startswith("="):  # verbatim lines (headings)
            out += [line.removeprefix("=") for line in block.splitlines()]
        else:
            out += wrap(" ".join(block.split()))
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- readme


def trope_summary(labels: list[Label]) -> str:
    counts = Counter(t for lab in labels for t in lab.tropes)
    parts = [f"{t} \u00d7{counts[t]}" for t in TROPES if counts[t]]
    return ", ".join(parts) if parts else "—"


def build_readme(files: list[tuple[str, str, str, list[Label]]], all_labels: list[Label]) -> bytes:
    intro = (SRC / "README.sample.md").read_text(encoding="utf-8").rstrip("\n")
    rows = [
        "| File | Format | Records | Planted passages (hard negatives) | Tropes planted (passages) |",
        "|---|---|---|---|---|",
    ]
    for name, fmt, records, labels in files:
        positives = sum(1 for lab in labels if lab.tropes)
        negatives = sum(1 for lab in labels if not lab.tropes)
        rows.append(f"| `{name}` | {fmt} | {records} | {positives} ({negatives}) | {trope_summary(labels)} |")
    totals = Counter(t for lab in all_labels for t in lab.tropes)
    trope_rows = ["| Trope | Passages |", "|---|---|"]
    trope_rows += [f"| `{t}` | {totals[t]} |" for t in TROPES]
    trope_rows.append(f'| hard negatives (`"tropes": []`) | {sum(1 for lab in all_labels if not lab.tropes)} |')
    text = intro.replace("{{FILE_TABLE}}", "\n".join(rows)).replace("{{TROPE_TABLE}}", "\n".join(trope_rows))
    return (text + "\n").encode("utf-8")


# --------------------------------------------------------------------------- main


def build() -> dict[str, bytes]:
    outputs: dict[str, bytes] = {}
    summary: list[tuple[str, str, str, list[Label]]] = []
    all_labels: list[Label] = []

    wet_docs = load_docs("wet")
    data, labels = build_wet(wet_docs)
    outputs[WET_NAME] = data
    summary.append(
        (
            WET_NAME,
            "WARC/1.0 WET, one gzip member per record",
            f"1 warcinfo + {len(wet_docs)} conversion",
            labels,
        )
    )
    all_labels += labels

    warc_docs = load_docs("warc")
    data, labels, counts = build_warc(warc_docs)
    outputs[WARC_NAME] = data
    kinds = ", ".join(f"{counts[k]} {k.split(':', 1)[1]}" for k in sorted(counts) if k.startswith("response:"))
    summary.append(
        (
            WARC_NAME,
            "WARC/1.0, one gzip member per record",
            f"1 warcinfo + {counts['request']} \u00d7 (request, response, metadata); responses: {kinds}",
            labels,
        )
    )
    all_labels += labels

    c4_docs = load_docs("c4")
    data, labels = build_c4(c4_docs)
    outputs[C4_NAME] = data
    summary.append((C4_NAME, "JSON Lines, gzip (`text`, `timestamp`, `url`)", f"{len(c4_docs)} lines", labels))
    all_labels += labels

    dolma_docs = load_docs("dolma")
    data, labels = build_dolma(dolma_docs)
    outputs[DOLMA_NAME] = data
    summary.append(
        (
            DOLMA_NAME,
            "Parquet, zstd, row groups of 5 (`id`, `text`, `source`, `added`, `created`, `metadata{url,…}`)",
            f"{len(dolma_docs)} rows",
            labels,
        )
    )
    all_labels += labels

    licence = licence_text()
    for doc in load_docs("books"):
        name, data, labels = build_book(doc, licence)
        outputs[name] = data
        words = sum(len(b.text.split()) for b in doc.blocks)
        summary.append((name, "Project Gutenberg-style plain text (BOM, CRLF)", f"1 book, {words:,} words", labels))
        all_labels += labels

    # Only scannable inputs live in sample/ (a directory scan reads every file there); the ground-truth
    # labels and the description sit beside it in corpora/.
    placed = {f"sample/{name}": data for name, data in outputs.items()}
    placed["sample-labels.jsonl"] = ("\n".join(lab.to_json() for lab in all_labels) + "\n").encode("utf-8")
    placed["README.md"] = build_readme(summary, all_labels)
    return placed


def write(outputs: dict[str, bytes], out_dir: Path) -> None:
    for name, data in sorted(outputs.items()):
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=OUT,
        help="output folder (default: corpora/, which gets sample/, sample-labels.jsonl, README.md)",
    )
    parser.add_argument("--check", action="store_true", help="only report whether the output folder is up to date")
    args = parser.parse_args(argv)
    try:
        outputs = build()
    except SourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        stale = [
            n for n, d in sorted(outputs.items()) if not (args.out / n).is_file() or (args.out / n).read_bytes() != d
        ]
        for name in stale:
            print(f"stale: {args.out / name}", file=sys.stderr)
        return 1 if stale else 0
    write(outputs, args.out)
    for name, data in sorted(outputs.items()):
        print(f"{len(data):>8,}  {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
