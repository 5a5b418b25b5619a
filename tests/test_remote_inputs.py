"""Inputs through fsspec other than http(s): a remote glob (memory:// stands in for s3://) and file:// URLs."""

from __future__ import annotations

import json
from pathlib import Path

import fsspec
import pytest

from scanner.config import ScanConfig
from scanner.pipeline import scan
from scanner.readers.inputs import resolve_inputs


@pytest.fixture
def bucket() -> str:
    fs = fsspec.filesystem("memory")
    for name, text in (("a.jsonl", "first"), ("b.jsonl", "second"), ("notes.md", "skip me")):
        fs.pipe(f"/tropescan-test-bucket/{name}", (json.dumps({"text": text}) + "\n").encode())
    yield "memory://tropescan-test-bucket"
    fs.rm("/tropescan-test-bucket", recursive=True)


def test_remote_glob_expands_to_each_object(bucket: str, tmp_path: Path) -> None:
    files, _ = resolve_inputs([f"{bucket}/*.jsonl"])
    assert [f.shard for f in files] == ["a.jsonl", "b.jsonl"]
    assert [(f.dataset, f.size) for f in files] == [("tropescan-test-bucket", 18), ("tropescan-test-bucket", 19)]
    result = scan(ScanConfig.build(inputs=[f"{bucket}/*.jsonl"], out=str(tmp_path)))
    assert result.manifest["counts"]["records_read"] == 2
    assert all(entry["sha256"] for entry in result.manifest["inputs"])


def test_remote_glob_without_match_is_missing(bucket: str, tmp_path: Path) -> None:
    result = scan(ScanConfig.build(inputs=[f"{bucket}/*.parquet"], out=str(tmp_path)))
    assert [e["status"] for e in result.manifest["inputs"]] == ["missing"]
    assert result.exit_code == 1


def test_file_url_is_a_local_path(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "hello"}\n')
    files, _ = resolve_inputs([f"file://{path}"])
    assert [f.source for f in files] == [str(path)]
