"""The embedded sample corpus: it scans cleanly, and every planted passage survives extraction."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from scanner.config import ScanConfig
from scanner.pipeline import iter_documents, scan
from scanner.taxonomy.load import load_taxonomy

CORPORA = Path(__file__).resolve().parents[1] / "corpora"
SAMPLE = CORPORA / "sample"
TROPES = set(load_taxonomy().ids)  # the default taxonomy's ten tropes


def _labels() -> list[dict[str, object]]:
    lines = (CORPORA / "sample-labels.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_sample", CORPORA / "build_sample.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_sample_scans_clean_in_every_format(tmp_path: Path) -> None:
    result = scan(ScanConfig.build(inputs=[str(SAMPLE)], out=str(tmp_path)))
    assert result.exit_code == 0
    assert result.ignored == []  # only inputs live in corpora/sample
    by_format = {e["format"]: e for e in result.manifest["inputs"]}
    assert set(by_format) == {"warc", "wet", "jsonl", "parquet", "text"}
    for entry in result.manifest["inputs"]:
        assert entry["status"] == "ok"
        assert entry["records_read"] > 0
    counts = result.manifest["counts"]
    assert set(counts["skipped_by_reason"]) <= {"warc_warcinfo", "warc_request", "warc_metadata", "non_html"}
    assert counts["warnings_by_reason"] == {}


def test_every_trope_is_planted_with_hard_negatives() -> None:
    labels = _labels()
    planted: dict[str, int] = {}
    for label in labels:
        for trope in label["tropes"]:  # type: ignore[attr-defined]
            planted[trope] = planted.get(trope, 0) + 1
    assert set(planted) == TROPES
    assert min(planted.values()) >= 3
    assert sum(1 for label in labels if not label["tropes"]) >= 20


def test_planted_passages_survive_extraction() -> None:
    texts = {}
    for doc in iter_documents(ScanConfig.build(inputs=[str(SAMPLE)], out="unused")):
        if not doc.skipped:
            texts.setdefault(Path(doc.source_path).relative_to(SAMPLE).as_posix(), []).append(
                " ".join(doc.text.split())
            )
    missing = []
    for label in _labels():
        snippet = " ".join(str(label["snippet"]).split())
        if not any(snippet in text for text in texts.get(str(label["file"]), [])):
            missing.append((label["file"], snippet))
    assert not missing


def test_no_robots_or_http_headers_in_sample_text() -> None:
    for doc in iter_documents(ScanConfig.build(inputs=[str(SAMPLE / "web")], out="unused")):
        if not doc.skipped:
            assert "robots:" not in doc.text
            assert not re.search(r"^(HTTP/1\.[01]|WARC-Type:|Content-Length:)", doc.text, re.MULTILINE)


@pytest.mark.slow
def test_sample_build_is_deterministic() -> None:
    build = _build_module()
    assert build.build() == build.build()
