"""HTML payload to main text, with resiliparse."""

from __future__ import annotations

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding
from resiliparse.parse.html import HTMLTree


def looks_like_html(payload: bytes) -> bool:
    head = payload[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<body" in head or b"<head" in head


def decode_html(payload: bytes, charset: str | None) -> tuple[str, list[str]]:
    """Decode an HTML payload: the HTTP charset when given and valid, else resiliparse's detection."""
    if charset:
        try:
            return payload.decode(charset), []
        except (LookupError, UnicodeDecodeError):
            pass
    encoding = detect_encoding(payload)
    text = bytes_to_str(payload, encoding or "utf-8")
    if "\ufffd" in text and "\ufffd".encode() not in payload:
        return text, ["non_utf8_replaced"]
    return text, []


def extract_text(html: str, *, main_content: bool) -> str:
    """Visible text with paragraph breaks kept (blocks separated by newlines)."""
    tree = HTMLTree.parse(html)
    return extract_plain_text(
        tree,
        preserve_formatting=True,
        main_content=main_content,
        list_bullets=False,
        alt_texts=False,
        links=False,
        form_fields=False,
        noscript=False,
    )
