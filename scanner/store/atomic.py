"""Whole-file writes that never leave a half-written file: write ``.<name>.tmp`` beside the target, then rename."""

from __future__ import annotations

from pathlib import Path


def write_atomic(path: Path, data: str | bytes) -> None:
    """``data`` (text is written as UTF-8) to ``path``, which appears only when complete."""
    tmp = path.with_name(f".{path.name}.tmp")
    if isinstance(data, str):
        tmp.write_text(data, encoding="utf-8")
    else:
        tmp.write_bytes(data)
    tmp.replace(path)
