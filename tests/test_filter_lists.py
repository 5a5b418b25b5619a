"""Filter lists: documents, URLs, domains, scores and dolma attributes derived from a scan, with the manifest hash."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from scanner.aggregate.filters import FilterOptions, write_filter_lists
from scanner.cli.app import _register, app
from scanner.errors import ConfigError
from scanner.pipeline import ScanResult
from tests.test_report import _scan


@pytest.fixture
def stub_scan(tmp_path: Path) -> ScanResult:
    return _scan(tmp_path)


def _jsonl(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_misaligned_documents_urls_and_manifest_hash(stub_scan: ScanResult, tmp_path: Path) -> None:
    out = tmp_path / "lists"
    record = write_filter_lists(stub_scan.out, out, FilterOptions())
    assert record["options"]["tropes"] == ["shutdown_resistance"]  # the stub taxonomy's one misaligned trope
    docs = _jsonl(out / "documents.jsonl")
    assert len(docs) == 5 and all(d["tropes"] == ["shutdown_resistance"] for d in docs)
    assert all(d["max_score"] == 0.9 and d["via_cluster"] is False for d in docs)
    assert (out / "urls.txt").read_text().splitlines() == [d["url"] for d in docs]
    assert pl.read_parquet(out / "documents.parquet").to_dicts() == docs
    sha = hashlib.sha256((stub_scan.out / "manifest.json").read_bytes()).hexdigest()
    assert record["manifest_sha256"] == sha
    for name in ("documents.parquet", "domains.parquet", "scores.parquet"):
        assert pq.read_schema(out / name).metadata[b"tropescan.manifest_sha256"] == sha.encode()
    assert json.loads((out / "filter-lists.json").read_text())["counts"]["documents"] == 5


def test_domains_scores_and_thresholds(stub_scan: ScanResult, tmp_path: Path) -> None:
    out = tmp_path / "lists"
    write_filter_lists(stub_scan.out, out, FilterOptions(polarity="all", min_domain_share=0.5))
    domains = _jsonl(out / "domains.jsonl")
    alpha = next(d for d in domains if d["domain"] == "alpha.example")
    assert (alpha["listed_docs"], alpha["domain_docs"], alpha["share"]) == (6, 6, 1.0)
    assert alpha["trope_docs"] == {"ai_risk_discourse": 1, "corrigible_ai": 2, "shutdown_resistance": 3}
    assert all(d["share"] >= 0.5 for d in domains)
    scores = pl.read_parquet(out / "scores.parquet")
    assert scores.height == 20 and scores.columns[0] == "doc_id"
    assert scores["shutdown_resistance"].to_list().count(0.0) == 15
    none = write_filter_lists(stub_scan.out, tmp_path / "none", FilterOptions(polarity="all", min_score=0.95))
    assert none["counts"]["documents"] == 0


def test_dedup_aware_lists_whole_clusters(stub_scan: ScanResult, tmp_path: Path) -> None:
    # label only the first copy of the syndicated page: its two copies come in through the cluster
    hits_path = next((stub_scan.out / "hits").glob("*.parquet"))
    hits = pl.read_parquet(hits_path)
    first = hits.filter(pl.col("trope") == "shutdown_resistance")["doc_id"][0]
    pq.write_table(hits.filter((pl.col("trope") != "shutdown_resistance") | (pl.col("doc_id") == first)).to_arrow(),
                   hits_path)  # fmt: skip
    record = write_filter_lists(stub_scan.out, tmp_path / "lists", FilterOptions(dedup_aware=True))
    docs = _jsonl(tmp_path / "lists" / "documents.jsonl")
    assert [d["via_cluster"] for d in docs] == [False, True, True]
    assert len({d["dup_cluster"] for d in docs}) == 1
    assert record["counts"]["documents_via_cluster"] == 2


def test_dolma_attributes_align_row_for_row(stub_scan: ScanResult, tmp_path: Path) -> None:
    out = tmp_path / "lists"
    write_filter_lists(stub_scan.out, out, FilterOptions(tropes=("corrigible_ai", "shutdown_resistance")))
    rows = _jsonl(out / "attributes" / "tropescan" / "web.jsonl")
    source = (tmp_path / "web.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rows) == len(source) == 21  # the invalid JSON line keeps its row
    assert [r["id"] for r in rows[:20]] == [json.loads(line)["id"] for line in source[:20]]
    assert rows[20]["attributes"] == {}
    labelled = [r for r in rows if r["attributes"]]
    assert {k for r in labelled for k in r["attributes"]} == {
        "tropescan__corrigible_ai",
        "tropescan__shutdown_resistance",
    }
    text = json.loads(source[0])["text"]
    ((start, end, score),) = rows[0]["attributes"]["tropescan__shutdown_resistance"]
    assert "SHUTDOWNMARK" in text[start:end] and score == 0.9


def test_gzip_inputs_get_gzip_attributes(tmp_path: Path) -> None:
    from engine_helpers import StubLabeler

    from scanner.config import ScanConfig
    from scanner.pipeline import scan
    from tests.test_report import _corpus

    plain = _corpus(tmp_path)
    packed = tmp_path / "web.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes(), mtime=0))
    plain.unlink()
    result = scan(ScanConfig.build(inputs=[str(packed)], out=str(tmp_path / "out")), labeler=StubLabeler())
    write_filter_lists(result.out, tmp_path / "lists", FilterOptions())
    with gzip.open(tmp_path / "lists" / "attributes" / "tropescan" / "web.jsonl.gz", "rt", encoding="utf-8") as fh:
        assert len(fh.read().splitlines()) == 21


def test_errors_name_the_problem(stub_scan: ScanResult, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown trope"):
        write_filter_lists(stub_scan.out, tmp_path / "x", FilterOptions(tropes=("nope",)))
    _register()
    res = CliRunner().invoke(app, ["filter-lists", str(stub_scan.out), "-o", str(tmp_path / "y"), "--polarity", "bad"])
    assert res.exit_code == 2
    res = CliRunner().invoke(app, ["filter-lists", str(stub_scan.out), "-o", str(tmp_path / "z"), "--polarity", "all"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "z" / "documents.jsonl").is_file()


def test_the_documented_polars_recipes_work(stub_scan: ScanResult, tmp_path: Path) -> None:
    """docs/filter-lists.md: anti-join the documents list, re-weight with the scores."""
    out = tmp_path / "lists"
    write_filter_lists(stub_scan.out, out, FilterOptions())
    listed = pl.read_parquet(out / "documents.parquet")
    docs = pl.read_parquet(stub_scan.out / "docs" / "*.parquet")
    keep = docs.join(listed.select("doc_id"), on="doc_id", how="anti")
    assert keep.height == docs.height - 5 and not set(keep["doc_id"]) & set(listed["doc_id"])
    scores = pl.read_parquet(out / "scores.parquet")
    weighted = docs.join(scores, on="doc_id", how="left").with_columns(
        weight=pl.when(pl.col("shutdown_resistance") >= 0.8).then(0.1).otherwise(1.0)
    )
    assert weighted.filter(pl.col("weight") == 0.1).height == 5
