"""report.html: self-contained, escaped, no script can run; in headless Chromium where it is installed."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from engine_helpers import StubLabeler

from scanner.config import ScanConfig
from scanner.pipeline import ScanResult, scan

PWN_SCRIPT = (
    "<script>document.title='PWNED';document.body.insertAdjacentHTML('beforeend','<div id=pwned></div>')</script>"
)
PWN_IMG = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
HOSTILE = (
    f"SHUTDOWNMARK {PWN_SCRIPT} {PWN_IMG} </style><style>body{{display:none}}</style> "
    "<a href='javascript:alert(1)'>x</a>"
)


@pytest.fixture
def hostile_scan(tmp_path: Path) -> ScanResult:
    rows = [
        {"id": "evil", "url": "javascript:document.title='PWNED'", "text": HOSTILE + " machine " * 40},
        {"id": "evil2", "url": f"https://evil.example/{PWN_SCRIPT}", "text": "SHUTDOWNMARK FICTION " + HOSTILE},
        {"id": "fine", "url": "https://ok.example/a", "text": "CORRIGIBLEMARK a calm page about robots " * 20},
    ]
    path = tmp_path / "hostile.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return scan(ScanConfig.build(inputs=[str(path)], out=str(tmp_path / "out")), labeler=StubLabeler())


def test_page_is_self_contained_and_escapes_everything(hostile_scan: ScanResult) -> None:
    page = (hostile_scan.out / "report.html").read_text(encoding="utf-8")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page and "script-src" not in page
    assert "<script" not in page.lower()
    assert not re.search(r"<img", page, re.I)
    assert 'href="javascript' not in page.lower() and "href='javascript" not in page.lower()
    assert page.count("</style>") == 1  # the page's own
    assert "&lt;script&gt;" in page  # the corpus text is shown, as text
    assert "<mark>SHUTDOWNMARK</mark>" in page
    assert not re.search(
        r"(src|href)=\"(https?:)?//",
        page.replace('href="https://evil.example', "").replace('href="https://ok.example', ""),
    )  # nothing loads from the network
    assert page.count("<svg") >= 3


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows of an 8-bit, non-interlaced RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = bpp = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, rows, prev = zlib.decompress(idat), [], bytes(width * bpp)
    stride = width * bpp
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = bytes(line)
    return width, height, [bytes(r[i] for i in range(0, len(r)) if i % bpp < 3) for r in rows]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.slow
def test_in_headless_chromium_no_script_runs_and_charts_render(hostile_scan: ScanResult, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        if os.environ.get("TROPESCAN_REQUIRE_BROWSER"):
            pytest.fail("TROPESCAN_REQUIRE_BROWSER is set but no chromium was found")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    page = (hostile_scan.out / "report.html").resolve().as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'p'}"]
    # control: the same payload in a page that does not escape it does run, so the checks below can fail
    control = tmp_path / "control.html"
    control.write_text(f"<html><head><title>t</title></head><body>{PWN_SCRIPT}</body></html>", encoding="utf-8")
    ran = subprocess.run([browser, *flags, "--dump-dom", control.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True)  # fmt: skip
    assert "<title>PWNED</title>" in ran.stdout and 'id="pwned"' in ran.stdout
    dom = subprocess.run([browser, *flags, "--dump-dom", page], capture_output=True, text=True, timeout=120, check=True)
    title = re.search(r"<title>(.*?)</title>", dom.stdout, re.S)
    assert title is not None and "PWNED" not in title.group(1)
    assert 'id="pwned"' not in dom.stdout and "data-pwned" not in dom.stdout.split("<body", 1)[1].split(">", 1)[0]
    shot = tmp_path / "shot.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1000,900", page],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    _, height, rows = _png_pixels(shot.read_bytes())
    red = sum(
        1
        for row in rows[: min(height, 900)]
        for i in range(0, len(row) - 2, 3)
        if row[i] > 150 and row[i + 1] < 90 and row[i + 2] < 90  # the misaligned bars' red
    )
    assert red > 500, "the prevalence chart did not render"
