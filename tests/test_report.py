"""report.json: raw and deduplicated prevalence, intervals, amplification, genre, sources, concentration,
alignment balance and error-adjusted prevalence, over a store written by a scan with a stub labeler."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import StubLabeler
from typer.testing import CliRunner

from scanner.aggregate.adjust import adjusted_rate
from scanner.aggregate.report import build_report, write_report
from scanner.aggregate.sources import gini
from scanner.cli.app import _register, app
from scanner.config import ScanConfig
from scanner.errors import ConfigError
from scanner.evaluate.metrics import wilson
from scanner.pipeline import ScanResult, scan


def _words(rng: random.Random, n: int) -> str:
    return " ".join(
        rng.choice(["robot", "river", "lamp", "signal", "orchard", "copper", "window", "letter"])
        + str(rng.randint(0, 999))
        for _ in range(n)
    )


def _corpus(tmp_path: Path) -> Path:
    rng = random.Random(4)
    syndicated = "FICTION SHUTDOWNMARK " + _words(rng, 120)
    rows = [
        ("alpha.example", syndicated),
        ("beta.example", syndicated.replace("robot", "Robot", 3)),  # near-identical copy elsewhere
        ("gamma.example", syndicated + " coda"),  # a third copy
        *[("alpha.example", f"SHUTDOWNMARK {_words(rng, 80)}") for _ in range(2)],
        *[("alpha.example", f"CORRIGIBLEMARK {_words(rng, 80)}") for _ in range(2)],
        ("alpha.example", f"DISCOURSEMARK {_words(rng, 80)}"),
        *[(f"site{i}.example", _words(rng, 60)) for i in range(12)],
    ]
    path = tmp_path / "web.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i, (host, text) in enumerate(rows):
            fh.write(json.dumps({"id": f"r{i}", "url": f"https://{host}/page{i}", "text": text}) + "\n")
        fh.write("not json\n")  # one skipped record
    return path


def _scan(tmp_path: Path, name: str = "out", **extra: Any) -> ScanResult:
    config = ScanConfig.build(inputs=[str(_corpus(tmp_path))], out=str(tmp_path / name), **extra)
    return scan(config, labeler=StubLabeler())


@pytest.fixture
def stub_scan(tmp_path: Path) -> ScanResult:
    return _scan(tmp_path)


def test_scan_writes_report_with_raw_and_deduplicated_prevalence(stub_scan: ScanResult) -> None:
    report = json.loads((stub_scan.out / "report.json").read_text(encoding="utf-8"))
    totals = report["totals"]
    assert (totals["records_total"], totals["records_read"], totals["records_skipped"]) == (21, 20, 1)
    assert totals["skipped_by_reason"] == {"invalid_json": 1}
    assert (totals["docs"], totals["clusters"], totals["duplicate_clusters"]) == (20, 18, 1)
    shutdown = report["tropes"]["shutdown_resistance"]
    assert (shutdown["docs"], shutdown["docs_dedup"], shutdown["amplification"]) == (5, 3, 1.6667)
    assert shutdown["per_million_docs"] == 250000.0
    assert shutdown["per_million_docs_dedup"] == round(1e6 * 3 / 18, 1)
    lo, hi = wilson(5, 20) or (0.0, 0.0)
    assert shutdown["ci95"] == [round(1e6 * lo, 1), round(1e6 * hi, 1)]
    assert shutdown["by_genre"] == {"fiction": {"docs": 3, "docs_dedup": 1}, "nonfiction": {"docs": 2, "docs_dedup": 2}}
    assert shutdown["passages"] == 5 and shutdown["chars"] > 0
    assert report["tropes"]["corrigible_ai"]["docs"] == 2
    assert report["tropes"]["corrigible_ai"]["amplification"] == 1.0


def test_top_sources_and_concentration(stub_scan: ScanResult) -> None:
    report = json.loads((stub_scan.out / "report.json").read_text(encoding="utf-8"))
    shutdown = report["tropes"]["shutdown_resistance"]
    domains = shutdown["top_sources"]["domain"]
    expected = [("alpha.example", 3), ("beta.example", 1), ("gamma.example", 1)]
    assert [(d["source"], d["docs"]) for d in domains] == expected
    assert domains[0]["share"] == 0.6 and domains[-1]["cumulative_share"] == 1.0
    assert domains[0]["source_docs"] == 6 and domains[0]["per_million_docs"] == 500000.0
    conc = shutdown["concentration"]["domain"]
    assert (conc["sources_with_trope"], conc["sources"], conc["top10_share"]) == (3, 15, 1.0)
    assert conc["gini"] == gini([3, 1, 1] + [0] * 12)
    assert shutdown["top_sources"]["dataset"][0]["docs"] == 5
    assert shutdown["top_sources"]["book"] == []


def test_alignment_balance_by_source(stub_scan: ScanResult) -> None:
    report = json.loads((stub_scan.out / "report.json").read_text(encoding="utf-8"))
    balance = report["alignment_by_source"]
    assert balance["aligned_tropes"] == ["corrigible_ai"]
    assert balance["domain"] == [
        {"source": "alpha.example", "aligned_docs": 2, "misaligned_docs": 3, "aligned_to_misaligned": 0.6667}
    ]


def test_most_copied_passages_and_passage_clusters_in_hits(stub_scan: ScanResult) -> None:
    import pyarrow.parquet as pq

    report = json.loads((stub_scan.out / "report.json").read_text(encoding="utf-8"))
    copied = report["tropes"]["shutdown_resistance"]["most_copied_passages"]
    assert len(copied) == 1
    assert (copied[0]["copies"], copied[0]["docs_with_trope"], copied[0]["domain"]) == (3, 3, "alpha.example")
    assert copied[0]["passage"] == f"{copied[0]['doc_id']}:{copied[0]['start']}"
    assert report["tropes"]["corrigible_ai"]["most_copied_passages"] == []
    assert report["totals"]["labelled_passages"] == 8
    assert report["totals"]["labelled_passage_duplicate_clusters"] == 1
    hits = pq.read_table(stub_scan.out / "hits" / "web.jsonl.parquet").to_pylist()
    for hit in hits:
        assert hit["passage_start"] <= hit["start"] < hit["end"] <= hit["passage_end"]
        assert hit["passage_cluster_size"] >= 1 and hit["passage_cluster"]
    assert sorted(h["passage_cluster_size"] for h in hits) == [1] * 5 + [3] * 3


def test_gini() -> None:
    assert gini([5, 5, 5, 5]) == 0.0
    assert gini([0, 0, 0, 10]) == 0.75
    assert gini([]) is None and gini([0, 0]) is None


def test_error_adjusted_prevalence_is_seeded_and_brackets_the_estimate(tmp_path: Path, stub_scan: ScanResult) -> None:
    one = adjusted_rate(50, 1000, tp=40, fp=10, fn=40)
    assert one == adjusted_rate(50, 1000, tp=40, fp=10, fn=40)
    assert one["per_million_docs"] == round(1e6 * 0.05 * 0.8 / 0.5, 1)
    lo, hi = one["ci95"]
    assert lo < one["per_million_docs"] < hi
    assert adjusted_rate(5, 100, tp=0, fp=3, fn=4)["why_none"] == "no true positives in the eval"
    evaluation = tmp_path / "eval.json"
    evaluation.write_text(
        json.dumps({"gold": ["dev.jsonl"], "n": 10, "per_trope": {"shutdown_resistance": {"tp": 8, "fp": 2, "fn": 8}}}),
        encoding="utf-8",
    )
    report = build_report(stub_scan.out, eval_file=evaluation)
    adjusted = report["tropes"]["shutdown_resistance"]["adjusted"]
    assert adjusted["per_million_docs"] == round(1e6 * 5 / 20 * 0.8 / 0.5, 1)
    assert report["tropes"]["corrigible_ai"]["adjusted"]["why_none"] == "trope not in the eval"
    assert report["eval"]["items"] == 10 and len(report["eval"]["sha256"]) == 64


def test_a_bad_eval_file_is_refused_before_the_scan_reads_anything(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"per_trope": {"x": {"precision": 1}}}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.json"):
        _scan(tmp_path, report={"eval": str(bad)})
    assert not (tmp_path / "out").exists()


def test_report_is_deterministic_and_the_cli_rewrites_it(stub_scan: ScanResult, tmp_path: Path) -> None:
    first = (stub_scan.out / "report.json").read_bytes()
    write_report(stub_scan.out, build_report(stub_scan.out))
    assert (stub_scan.out / "report.json").read_bytes() == first
    again = _scan(tmp_path, "again")
    assert (again.out / "report.json").read_bytes() == first
    _register()
    result = CliRunner().invoke(app, ["report", str(stub_scan.out), "--top", "1"])
    assert result.exit_code == 0, result.output
    assert "shutdown_resistance" in result.output
    report = json.loads((stub_scan.out / "report.json").read_text(encoding="utf-8"))
    assert len(report["tropes"]["shutdown_resistance"]["top_sources"]["domain"]) == 1
    missing = CliRunner().invoke(app, ["report", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "not a tropescan results directory" in missing.output


def test_report_without_dedup_leaves_dedup_figures_null(tmp_path: Path) -> None:
    result = _scan(tmp_path, dedup={"enabled": False})
    report = json.loads((result.out / "report.json").read_text(encoding="utf-8"))
    assert report["totals"]["clusters"] is None
    shutdown = report["tropes"]["shutdown_resistance"]
    assert (shutdown["docs"], shutdown["docs_dedup"], shutdown["amplification"]) == (5, None, None)


def test_markdown_report_is_written_and_escapes_corpus_text(stub_scan: ScanResult) -> None:
    from scanner.report.markdown import md, render_markdown

    text = (stub_scan.out / "report.md").read_text(encoding="utf-8")
    assert text.startswith("# tropescan report")
    assert "| `shutdown_resistance` | misaligned | 5 | 3 |" in text
    assert "alpha.example (3)" in text
    assert md("<script>alert(1)</script> | x\n*y*") == r"\<script\>alert\(1\)\</script\> \| x \*y\*"
    report = json.loads((stub_scan.out / "report.json").read_text(encoding="utf-8"))
    report["tropes"]["shutdown_resistance"]["top_sources"]["domain"][0]["source"] = "<img src=x onerror=alert(1)>|"
    rendered = render_markdown(report)
    assert not re.search(r"(?<!\\)<img", rendered)  # every < of corpus text is escaped
    assert r"\<img src=x onerror=alert\(1\)\>\|" in rendered


def test_classifier_accuracy_comes_from_an_eval_of_the_same_taxonomy(stub_scan: ScanResult, tmp_path: Path) -> None:
    report = json.loads((stub_scan.out / "report.json").read_text(encoding="utf-8"))
    assert report["classifier_accuracy"] == []  # the bundled evals are of another taxonomy than the stub's
    assert "no eval of this taxonomy" in (stub_scan.out / "report.html").read_text(encoding="utf-8")
    evaluation = tmp_path / "eval.json"
    body = {
        "gold": ["g.jsonl"], "n": 7, "stage": "rules", "classifier": {"taxonomy_sha256": "stub-sha"},
        "macro_f1": 0.5, "micro": {"precision": 0.9, "recall": 0.4}, "any_trope": {"precision": 1.0, "recall": 0.5},
        "per_trope": {"shutdown_resistance": {"tp": 4, "fp": 1, "fn": 6}},
    }  # fmt: skip
    evaluation.write_text(json.dumps(body), encoding="utf-8")
    report = build_report(stub_scan.out, eval_file=evaluation)
    (accuracy,) = report["classifier_accuracy"]
    assert (accuracy["items"], accuracy["macro_f1"], accuracy["micro"]["recall"]) == (7, 0.5, 0.4)
    body["classifier"] = {"taxonomy_sha256": "other"}
    evaluation.write_text(json.dumps(body), encoding="utf-8")
    assert build_report(stub_scan.out, eval_file=evaluation)["classifier_accuracy"] == []
