"""Scanning with labels: the sample corpus's hits, genres, manifest counts, --no-classify, and determinism."""

from __future__ import annotations

import json
import struct
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import assert_counts_balance, run_scan
from engine_helpers import run_info, tree
from typer.testing import CliRunner

from scanner.classify.index import exemplar_rows
from scanner.cli.app import _register, app
from scanner.config import ScanConfig
from scanner.engines import RunOptions
from scanner.evaluate.gold import load_gold
from scanner.pipeline import ScanResult, iter_documents, scan
from scanner.store.schema import HITS_SCHEMA
from scanner.taxonomy.load import load_taxonomy, taxonomy_hash

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "corpora" / "sample"
TAXONOMY = load_taxonomy()
TROPES = TAXONOMY.ids
THRESHOLDS = {t.id: t.threshold for t in TAXONOMY.tropes}

pytestmark = pytest.mark.skipif(not SAMPLE.is_dir(), reason="sample corpus not built")


def _f32(x: float) -> float:
    """``x`` as the float32 the hits table stores."""
    return float(struct.unpack("f", struct.pack("f", x))[0])


@pytest.fixture(scope="module")
def sample_scan(tmp_path_factory: pytest.TempPathFactory) -> ScanResult:
    return run_scan(SAMPLE, tmp_path_factory.mktemp("labels") / "out")


@pytest.fixture(scope="module")
def docs(sample_scan: ScanResult) -> pl.DataFrame:
    return pl.read_parquet(sample_scan.out / "docs" / "*.parquet")


@pytest.fixture(scope="module")
def hits(sample_scan: ScanResult) -> pl.DataFrame:
    return pl.read_parquet(sample_scan.out / "hits" / "*.parquet")


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    """doc_id -> text of every read record of the sample (no classification)."""
    config = ScanConfig.build(inputs=[str(SAMPLE)], out="unused")
    return {d.doc_id: d.text for d in iter_documents(config) if not d.skipped}


def test_sample_scan_writes_hits_for_all_ten_tropes(sample_scan: ScanResult, hits: pl.DataFrame) -> None:
    assert sample_scan.exit_code == 0
    assert hits.columns == HITS_SCHEMA.names
    assert set(hits["trope"].to_list()) == set(TROPES)
    assert hits.height >= 20
    # every shard has a hits file, even where it is empty
    shards = sorted(p.name for p in (sample_scan.out / "docs").glob("*.parquet"))
    assert sorted(p.name for p in (sample_scan.out / "hits").glob("*.parquet")) == shards
    assert len(shards) == 6


def test_every_hit_lies_inside_one_passage_of_its_document(
    hits: pl.DataFrame, docs: pl.DataFrame, texts: dict[str, str]
) -> None:
    by_id = {row["doc_id"]: row for row in docs.iter_rows(named=True)}
    assert len(by_id) == docs.height  # doc ids are unique
    seen: set[tuple[str, int, str]] = set()
    for hit in hits.iter_rows(named=True):
        doc = by_id[hit["doc_id"]]
        assert doc["skip_reason"] is None
        assert doc["ai_cue"] is True
        passages = list(zip(doc["passage_starts"], doc["passage_ends"], strict=True))
        inside = [(s, e) for s, e in passages if s <= hit["start"] < hit["end"] <= e]
        assert len(inside) == 1, hit
        key = (hit["doc_id"], passages.index(inside[0]), hit["trope"])
        assert key not in seen, key  # one hit per (passage, trope)
        seen.add(key)
        assert hit["end"] <= doc["n_chars"]
        text = texts[hit["doc_id"]]
        assert len(text) == doc["n_chars"]
        assert text[hit["start"] : hit["end"]].strip(), hit


def test_every_hit_names_the_rule_or_the_exemplar_behind_it(hits: pl.DataFrame) -> None:
    patterns = {t.id: {p.id for p in t.patterns} for t in TAXONOMY.tropes}
    calibration = json.loads((ROOT / "taxonomies" / "ai_self_preservation.calibration.json").read_text("utf-8"))
    train = load_gold(ROOT / "corpora/labeled/train.jsonl", known_labels=TROPES)
    carries = {row.ref: row.labels for row in exemplar_rows(TAXONOMY, [(t.id, t.text, t.labels) for t in train])}
    stages = Counter(hits["stage"].to_list())
    assert set(stages) <= {"rules", "embed", "both"} and stages["embed"] + stages["both"] > 0
    for hit in hits.iter_rows(named=True):
        detail = json.loads(hit["evidence"])
        if hit["stage"] in ("rules", "both"):
            assert _f32(THRESHOLDS[hit["trope"]]) <= hit["score"] <= 1.0, hit
            assert detail["rules"], hit
            for rule in detail["rules"]:
                trope, _, pattern = rule.partition("/")
                assert trope == hit["trope"] and pattern in patterns[trope], rule
            assert isinstance(detail["cues"], list)
        if hit["stage"] in ("embed", "both"):
            assert detail["p_embed"] >= calibration["tropes"][hit["trope"]]["threshold"], hit
            assert hit["score"] >= _f32(detail["p_embed"]) - 1e-4, hit
            assert hit["trope"] in carries[detail["exemplar"]], hit  # the nearest indexed passage carrying it
            assert -1.0 <= detail["similarity"] <= 1.0
            assert isinstance(detail["terms"], list)


def test_genre_of_read_and_skipped_documents(docs: pl.DataFrame) -> None:
    read = docs.filter(pl.col("skip_reason").is_null())
    skipped = docs.filter(pl.col("skip_reason").is_not_null())
    assert read.height == 53 and skipped.height == 26
    assert set(read["genre"].to_list()) == {"fiction", "nonfiction"}
    for row in read.iter_rows(named=True):
        assert 0.0 <= row["genre_score"] <= 1.0
        assert (row["genre"] == "fiction") is (row["genre_score"] >= 0.5), row
        assert row["ai_cue"] in (True, False)
    assert skipped["genre"].null_count() == skipped.height
    assert skipped["genre_score"].null_count() == skipped.height
    assert skipped["ai_cue"].null_count() == skipped.height


def test_books_are_fiction(docs: pl.DataFrame) -> None:
    books = docs.filter(pl.col("format") == "text")
    assert books.height == 2
    assert books["genre"].to_list() == ["fiction", "fiction"]


def test_manifest_classifier_section(sample_scan: ScanResult) -> None:
    manifest = json.loads((sample_scan.out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == json.loads(json.dumps(sample_scan.manifest))
    info = manifest["classifier"]
    assert info["taxonomy"] == "ai_self_preservation"
    assert info["taxonomy_sha256"] == taxonomy_hash(TAXONOMY)
    assert list(info["tropes"]) == TROPES
    assert info["tropes"]["corrigible_ai"] == {"polarity": "aligned", "threshold": 0.5}
    assert info["tropes"]["ai_risk_discourse"]["polarity"] == "discourse"
    assert info["stage"] == "cascade" and info["stages"] == ["rules", "embed"]
    assert info["cue_engine"] in {"hyperscan", "aho-corasick"}
    assert isinstance(info["spacy_pipeline"], str) and info["spacy_pipeline"]
    classify = manifest["config"]["classify"]
    assert {k: classify[k] for k in ("enabled", "taxonomy", "spacy_model", "stage")} == {
        "enabled": True,
        "taxonomy": None,
        "spacy_model": None,
        "stage": "auto",
    }
    assert info["embedding"]["model_id"] and info["embedding"]["gate"] is True
    tiers = info["passages_by_tier"]
    assert tiers["passages"] >= tiers["gated"] >= tiers["lexical"] >= tiers["embedded"] > 0


def _counts_from_tables(docs: pl.DataFrame, hits: pl.DataFrame) -> dict[str, Any]:
    return {
        "ai_cue_docs": int(docs["ai_cue"].sum()),
        "docs_by_genre": dict(sorted(Counter(g for g in docs["genre"].to_list() if g is not None).items())),
        "docs_by_trope": dict(sorted(Counter(hits.unique(["doc_id", "trope"])["trope"].to_list()).items())),
        "passages_by_trope": dict(sorted(Counter(hits["trope"].to_list()).items())),
    }


def test_manifest_counts_match_the_tables(sample_scan: ScanResult, docs: pl.DataFrame, hits: pl.DataFrame) -> None:
    counts = assert_counts_balance(sample_scan)
    expected = _counts_from_tables(docs, hits)
    assert {k: counts[k] for k in expected} == expected
    assert set(counts["docs_by_trope"]) == set(TROPES)
    assert sum(counts["docs_by_genre"].values()) == counts["records_read"]
    assert all(counts["docs_by_trope"][t] <= counts["passages_by_trope"][t] for t in TROPES)
    assert counts["ai_cue_docs"] <= counts["records_read"]
    # and per input, by shard
    for entry in sample_scan.manifest["inputs"]:
        shard_docs = docs.filter(pl.col("shard") == entry["shard"])
        shard_hits = hits.filter(pl.col("doc_id").is_in(shard_docs["doc_id"].to_list()))
        assert {k: entry[k] for k in expected} == _counts_from_tables(shard_docs, shard_hits), entry["source"]


def test_no_classify_scan(tmp_path: Path) -> None:
    _register()
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["scan", str(SAMPLE), "-o", str(out), "--no-classify", "-q"])
    assert res.exit_code == 0, res.output
    hits = pl.read_parquet(out / "hits" / "*.parquet")
    assert hits.height == 0
    assert hits.columns == HITS_SCHEMA.names
    docs = pl.read_parquet(out / "docs" / "*.parquet")
    assert docs.height == 79
    for column in ("genre", "genre_score", "ai_cue"):
        assert docs[column].null_count() == docs.height, column
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["classifier"] is None
    assert manifest["config"]["classify"]["enabled"] is False
    counts = manifest["counts"]
    assert (counts["ai_cue_docs"], counts["docs_by_genre"], counts["docs_by_trope"]) == (0, {}, {})
    assert counts["passages_by_trope"] == {}
    assert counts["records_read"] == 53


def test_two_workers_write_the_same_bytes_as_one(sample_scan: ScanResult, tmp_path: Path) -> None:
    """The real cascade in two worker processes (each loads its own classifier and model) against the fixture's
    in-process scan: every file the same, the manifest too once its --out is set aside."""
    config = ScanConfig.build(inputs=[str(SAMPLE)], out=str(tmp_path / "again"))
    again = scan(config, run=RunOptions(workers=2))
    assert run_info(again.out)["workers"] == 2
    first, second = tree(sample_scan.out), tree(again.out)
    assert sorted(first) == sorted(second)
    manifests = [json.loads(t.pop("manifest.json")) for t in (first, second)]
    for m in manifests:
        del m["config"]["out"]
    assert manifests[0] == manifests[1]
    differing = [name for name in first if first[name] != second[name]]
    assert not differing, differing
