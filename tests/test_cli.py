"""The command line: `tropescan scan` end to end through typer, and `python -m scanner`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from scanner.cli.app import _register, app

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "corpora" / "sample"


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    _register()
    return CliRunner()


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_scan_writes_the_results_layout(runner: CliRunner, tmp_path: Path) -> None:
    src = _jsonl(
        tmp_path / "in.jsonl",
        [
            {"text": "A robot refused to be switched off.", "url": "https://a.example.co.uk/x"},
            {"text": "Bread recipe.", "url": "http://b.example.com/"},
        ],
    )
    out = tmp_path / "out"
    res = runner.invoke(app, ["scan", str(src), "--out", str(out), "--dataset", "mine"])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["records_total"] == 2 and manifest["counts"]["records_read"] == 2
    assert manifest["config"]["dataset"] == "mine"
    assert manifest["inputs"][0]["sha256"]
    docs = pl.read_parquet(out / "docs" / "in.jsonl.parquet")
    assert docs["domain"].to_list() == ["example.co.uk", "example.com"]
    assert docs["dataset"].to_list() == ["mine", "mine"]
    hits = pl.read_parquet(out / "hits" / "in.jsonl.parquet")
    assert hits.columns == [
        "doc_id", "start", "end", "trope", "score", "stage", "evidence",
        "passage_start", "passage_end", "passage_cluster", "passage_cluster_size", "passage_text",
    ]  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == [
        "docs", "hits", "manifest.json", "passages", "report.html", "report.json", "report.md", "run.json",
        "shards", "signatures",
    ]  # fmt: skip
    assert not list(out.rglob("*.tmp"))


def test_scan_limit(runner: CliRunner, tmp_path: Path) -> None:
    src = _jsonl(tmp_path / "in.jsonl", [{"text": f"document {i}"} for i in range(10)])
    res = runner.invoke(app, ["scan", str(src), "--out", str(tmp_path / "o"), "--limit", "3", "--quiet"])
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["counts"]["records_read"] == 3
    assert manifest["inputs"][0]["sha256"]  # the whole file is still hashed


def test_missing_named_input_exits_non_zero(runner: CliRunner, tmp_path: Path) -> None:
    good = _jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    res = runner.invoke(app, ["scan", str(good), str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    statuses = {Path(e["source"]).name: e["status"] for e in manifest["inputs"]}
    assert statuses == {"in.jsonl": "ok", "nope.jsonl": "missing"}


def test_invalid_option_is_a_config_error(runner: CliRunner, tmp_path: Path) -> None:
    src = _jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    res = runner.invoke(app, ["scan", str(src), "--format", "pdf", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "format" in res.output
    assert not (tmp_path / "o").exists()


def test_summary_is_printed(runner: CliRunner, tmp_path: Path) -> None:
    src = _jsonl(tmp_path / "in.jsonl", [{"text": "x"}, {"no_text": 1}])
    res = runner.invoke(app, ["scan", str(src), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0
    assert "missing_text_field" in res.output
    assert "1 read, 1 skipped" in res.output


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="sample corpus not built")
def test_default_scans_the_sample_corpus(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["scan", "--quiet"])
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "tropescan-out" / "manifest.json").read_text())
    formats = {e["format"] for e in manifest["inputs"]}
    assert formats == {"warc", "wet", "jsonl", "parquet", "text"}
    assert all(e["status"] == "ok" for e in manifest["inputs"])
    damage = {"truncated_gzip", "corrupt_gzip", "malformed_warc_header", "bad_content_length", "invalid_json"}
    assert not damage & set(manifest["counts"]["skipped_by_reason"])


def test_python_m_scanner(tmp_path: Path) -> None:
    src = _jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", str(src), "--out", str(tmp_path / "o"), "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o" / "docs" / "in.jsonl.parquet").is_file()
    version = subprocess.run(
        [sys.executable, "-m", "scanner", "--version"], capture_output=True, text=True, check=False
    )
    assert version.stdout.startswith("tropescan ")
