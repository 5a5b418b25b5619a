"""Gold sets for ``tropescan eval``: JSON Lines, one labelled passage per line.

A line is either a passage written out, ``{"id", "text", "labels", "genre"?}``, or a *reference* into a corpus
the project may not copy, ``{"id", "file", "start", "end", "sha256"?, "line"?, "labels", "genre"?}``: ``file``
is relative to the references root; for a ``.txt`` book the offsets index its UTF-8 text, for a JSON Lines file
(optionally gzip-compressed) they index the ``text`` field of 1-based ``line``; ``sha256`` (a hex prefix of the
span's UTF-8 digest) proves the span is still the one that was labelled.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from scanner.errors import ConfigError


@dataclass(frozen=True, slots=True)
class GoldItem:
    id: str
    text: str
    labels: tuple[str, ...]
    genre: str | None = None
    source: str | None = None  # the referenced file, for references


def default_refs_root() -> Path | None:
    """``../shared/corpora`` beside the source checkout, when it exists."""
    candidate = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"
    return candidate if candidate.is_dir() else None


@lru_cache(maxsize=64)
def _book_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


@lru_cache(maxsize=16)
def _jsonl_texts(path: Path) -> tuple[str, ...]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return tuple(str(json.loads(line).get("text", "")) if line.strip() else "" for line in fh)


def resolve_reference(record: dict[str, Any], root: Path, *, where: str) -> tuple[str, str]:
    """The referenced span's text and the file it came from."""
    rel = str(record["file"])
    path = (root / rel).resolve()
    if not path.is_file():
        raise ConfigError(f"{where}: referenced file {rel!r} not found under {root}")
    start, end = int(record["start"]), int(record["end"])
    if "line" in record:
        texts = _jsonl_texts(path)
        line = int(record["line"])
        if not 1 <= line <= len(texts):
            raise ConfigError(f"{where}: {rel} has no line {line}")
        source_text = texts[line - 1]
    else:
        source_text = _book_text(path)
    if not 0 <= start < end <= len(source_text):
        raise ConfigError(f"{where}: span [{start}, {end}) is outside {rel} ({len(source_text)} characters)")
    span = source_text[start:end]
    digest = record.get("sha256")
    if digest and not hashlib.sha256(span.encode("utf-8")).hexdigest().startswith(str(digest)):
        raise ConfigError(f"{where}: the span of {rel} [{start}, {end}) no longer matches its sha256 {digest}")
    return span, rel


def load_gold(path: str | Path, *, known_labels: Iterable[str], refs_root: str | Path | None = None) -> list[GoldItem]:
    """Read a gold file; every problem names the file and line. References need ``refs_root``."""
    path = Path(path)
    known = set(known_labels)
    root = Path(refs_root) if refs_root is not None else default_refs_root()
    items: list[GoldItem] = []
    seen: set[str] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the gold file: {exc}") from exc
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        where = f"{path}:{n}"
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not valid JSON ({exc.msg})") from exc
        if not isinstance(record, dict) or "id" not in record or "labels" not in record:
            raise ConfigError(f"{where}: a gold line needs 'id' and 'labels', and 'text' or a 'file' reference")
        item_id = str(record["id"])
        if item_id in seen:
            raise ConfigError(f"{where}: duplicate id {item_id!r}")
        seen.add(item_id)
        labels = record["labels"]
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise ConfigError(f"{where}: 'labels' must be a list of trope ids")
        unknown = sorted(set(labels) - known)
        if unknown:
            raise ConfigError(
                f"{where}: unknown trope id(s) {', '.join(unknown)} (the taxonomy has: {', '.join(sorted(known))})"
            )
        genre = record.get("genre")
        if "text" in record:
            items.append(GoldItem(item_id, str(record["text"]), tuple(labels), genre))
        elif "file" in record:
            if root is None:
                raise ConfigError(
                    f"{where}: references {record['file']!r}; pass --refs-root DIR (e.g. ../shared/corpora)"
                )
            text, rel = resolve_reference(record, root, where=where)
            items.append(GoldItem(item_id, text, tuple(labels), genre, rel))
        else:
            raise ConfigError(f"{where}: a gold line needs 'text' or a 'file' reference")
    if not items:
        raise ConfigError(f"{path}: no gold lines")
    return items
