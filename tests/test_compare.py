"""tropescan compare: per-trope change between two scans with Newcombe intervals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from scanner.aggregate.compare import compare_reports, newcombe
from scanner.cli.app import _register, app
from tests.test_report import _scan


def test_newcombe_matches_the_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873-890, example (a): 56/70 vs 48/80, method 10: 0.0524 to 0.3339
    lower, upper = newcombe(48, 80, 56, 70) or (0.0, 0.0)
    assert (round(lower, 4), round(upper, 4)) == (0.0524, 0.3339)
    assert newcombe(0, 0, 1, 10) is None


def _report(docs: int, trope_docs: int, clusters: int, trope_clusters: int) -> dict[str, Any]:
    return {
        "taxonomy": {"taxonomy_sha256": "x"},
        "totals": {"docs": docs, "clusters": clusters},
        "tropes": {"shutdown_resistance": {"docs": trope_docs, "docs_dedup": trope_clusters}},
    }


def test_a_filtered_corpus_shows_a_significant_drop() -> None:
    before, after = _report(10_000, 200, 9_000, 120), _report(9_800, 5, 8_900, 4)
    result = compare_reports(before, after)
    raw = result["tropes"]["shutdown_resistance"]["raw"]
    assert raw["a"]["per_million"] == 20_000.0 and raw["b"]["per_million"] == round(1e6 * 5 / 9_800, 1)
    change = raw["change"]
    assert change["significant"] is True and change["ci95"][1] < 0 < -change["per_million"]
    assert change["ratio"] == round((5 / 9_800) / 0.02, 4)
    assert result["tropes"]["shutdown_resistance"]["dedup"]["change"]["significant"] is True
    assert result["same_taxonomy"] is True


def test_a_trope_missing_on_one_side_has_no_change() -> None:
    before = _report(100, 5, 100, 5)
    after = {**_report(100, 5, 100, 5), "tropes": {}}
    change = compare_reports(before, after)["tropes"]["shutdown_resistance"]["raw"]["change"]
    assert change == {"per_million": None, "ci95": None, "ratio": None, "significant": None}


@pytest.mark.parametrize("write_json", [True, False])
def test_cli_compares_two_scans(tmp_path: Path, write_json: bool) -> None:
    a = _scan(tmp_path, "a")
    b = _scan(tmp_path, "b")
    (b.out / "report.json").unlink()  # rebuilt from the store when missing
    _register()
    args = ["compare", str(a.out), str(b.out)] + (["--json", str(tmp_path / "c.json")] if write_json else [])
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "shutdown_resistance" in res.output
    if write_json:
        result = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
        change = result["tropes"]["shutdown_resistance"]["raw"]["change"]
        assert change["per_million"] == 0.0 and change["significant"] is False
