"""Integration: every file of the real corpora in ../shared/corpora, counts checked against its MANIFEST.md.

Skipped cleanly where ../shared is absent. No text from the corpora is copied into the project.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from scanner.config import ScanConfig
from scanner.pipeline import ScanResult, scan

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
pytestmark = [
    pytest.mark.shared,
    pytest.mark.skipif(not (SHARED / "MANIFEST.md").is_file(), reason="../shared/corpora is not available"),
]

# file name -> (records in the file, HTML responses or WET conversions) as MANIFEST.md gives them
WARC_COUNTS = {
    "resiliparse__warcfile_CC-MAIN-2020-34.warc.gz": (50, 16),
    "whirlwind__CC-MAIN-2024-22.warc.gz": (4, 1),
    "eugeneware__CC-MAIN-20140820021334-00006.warc": (13, 3),
    "jwarc__cc.warc.gz": (1, 1),
    "dolma__sample-0000.warc.gz": (48, 22),
    "dolma__sample-0001.warc.gz": (34, 15),
    "ukwa__IAH-urls-wget.warc.gz": (36, 11),
    "ukwa__IAH-20080430204825-00000-blackbook-truncated.warc.gz": (23, 2),
    "ukwa__wikipedia-post-blackout.warc.gz": (117, 1),
    "warcio__example.warc.gz": (6, 1),
    "warcio__example-iana.org-chunked.warc": (3, 1),
}
WET_COUNTS = {
    "whirlwind__CC-MAIN-2024-22.warc.wet.gz": (2, 1),
    "eugeneware__CC-MAIN-20140820021334-00006.warc.wet": (4, 3),
}
WAT_FILES = {"whirlwind__CC-MAIN-2024-22.warc.wat.gz", "eugeneware__CC-MAIN-20140820021334-00006.warc.wat"}
JSONL_COUNTS = {
    "dolma__CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz": 697,
    "dolma__cc_en_head-0091.jsonl.gz": 10,
    "dolma__cc_en_head-0174.jsonl.gz": 10,
    "dolma__provided_documents_000.json.gz": 10,
    "olmo__c4-sample.01.json.gz": 10,
    "olmo__c4-sample.02.json.gz": 10,
    "olmo__c4-sample.03.json.gz": 10,
    "olmo__c4_100_domains_5_www.theguardian.com_00000000.jsonl.gz": 10,
}


@pytest.fixture(scope="module")
def shared_scan(tmp_path_factory: pytest.TempPathFactory) -> ScanResult:
    out = tmp_path_factory.mktemp("shared-scan")
    # Record accounting does not depend on the classifier: the rules alone (the cascade embeds the 23 books'
    # robot passages with MiniLM, minutes on two cores).
    return scan(ScanConfig.build(inputs=[str(SHARED)], out=str(out), classify={"stage": "rules"}))


def _by_name(result: ScanResult) -> dict[str, dict]:  # type: ignore[type-arg]
    return {Path(e["source"]).name: e for e in result.manifest["inputs"]}


def test_every_file_is_accounted_for(shared_scan: ScanResult) -> None:
    names = _by_name(shared_scan)
    expected = set(WARC_COUNTS) | set(WET_COUNTS) | WAT_FILES | set(JSONL_COUNTS)
    books = {p.name for p in (SHARED / "fiction").rglob("*.txt")}
    assert len(books) == 23
    assert set(names) == expected | books
    assert [Path(i["source"]).name for i in shared_scan.manifest["ignored_files"]] == ["MANIFEST.md"]
    counts = shared_scan.manifest["counts"]
    assert counts["records_read"] + counts["records_skipped"] == counts["records_total"]
    assert shared_scan.exit_code == 0


def test_warc_counts_match_manifest(shared_scan: ScanResult) -> None:
    names = _by_name(shared_scan)
    for name, (records, html) in WARC_COUNTS.items():
        entry = names[name]
        assert entry["format"] == "warc", name
        assert entry["records_total"] == records, name
        # HTML responses: read, or skipped for a non-2xx HTTP status (wget captures of redirects and errors)
        assert entry["records_read"] + entry["skipped_by_reason"].get("http_not_ok", 0) == html, name
        damage = {
            "truncated_gzip",
            "corrupt_gzip",
            "malformed_warc_header",
            "bad_content_length",
            "truncated_record",
            "malformed_http",
        }
        assert not damage & set(entry["skipped_by_reason"]), (name, entry["skipped_by_reason"])


def test_wet_counts_and_wat_refused(shared_scan: ScanResult) -> None:
    names = _by_name(shared_scan)
    for name, (records, conversions) in WET_COUNTS.items():
        assert names[name]["format"] == "wet"
        assert names[name]["records_total"] == records
        assert names[name]["records_read"] == conversions
    for name in WAT_FILES:
        assert names[name]["status"] == "refused"
        assert "WAT" in names[name]["message"]


def test_jsonl_counts_and_provenance(shared_scan: ScanResult) -> None:
    names = _by_name(shared_scan)
    for name, records in JSONL_COUNTS.items():
        assert names[name]["records_total"] == records, name
    docs = pl.read_parquet(shared_scan.out / "docs" / "*.parquet")
    c4 = docs.filter(pl.col("source_path").str.contains("olmo__c4-sample.01"))
    assert c4["url"].null_count() == 0 and c4["domain"].null_count() == 0
    dolma = docs.filter(pl.col("source_path").str.contains("00140.jsonl.gz") & pl.col("skip_reason").is_null())
    assert dolma["url"].null_count() == 0  # URL sits in metadata.url
    assert dolma["domain"].n_unique() > 100
    guardian = docs.filter(pl.col("source_path").str.contains("theguardian"))
    assert set(guardian["domain"].to_list()) == {"theguardian.com"}  # from the subdomain field


def test_books_are_stripped_with_title_and_author(shared_scan: ScanResult) -> None:
    docs = pl.read_parquet(shared_scan.out / "docs" / "*.parquet").filter(pl.col("format") == "text")
    assert docs.height == 23
    assert docs["title"].null_count() == 0 and docs["author"].null_count() == 0
    frank = docs.filter(pl.col("source_path").str.contains("pg00084"))
    assert frank["title"][0].startswith("Frankenstein")
    assert frank["author"][0] == "Mary Wollstonecraft (Godwin) Shelley"  # as its Gutenberg header gives it


def test_common_crawl_robots_lines_never_reach_text() -> None:
    from scanner.pipeline import iter_documents

    config = ScanConfig.build(inputs=[str(SHARED / "commoncrawl" / "cc")], out="unused")
    texts = [d.text for d in iter_documents(config) if not d.skipped]
    assert texts
    assert not any("robots: classic" in t or "crawler-commons" in t for t in texts)


def test_manifest_is_json_with_sha256(shared_scan: ScanResult) -> None:
    manifest = json.loads((shared_scan.out / "manifest.json").read_text())
    names = {Path(e["source"]).name: e for e in manifest["inputs"]}
    assert names["resiliparse__warcfile_CC-MAIN-2020-34.warc.gz"]["sha256"] == (
        "5cb22a7ab6d90664d69d5d17bdb4054b8eccc9b0a3b0e766dbf6469f32613221"
    )
    assert names["jwarc__cc.warc.gz"]["size"] == 5392


def test_real_corpora_dedup_and_report(shared_scan: ScanResult) -> None:
    """Near-duplicates among the real pages are clustered, no two books share a cluster, and report.json holds
    raw and deduplicated prevalence with sources for every trope."""
    docs = pl.read_parquet(shared_scan.out / "docs" / "*.parquet").filter(pl.col("skip_reason").is_null())
    assert docs["dup_cluster"].null_count() == 0
    books = docs.filter(pl.col("format") == "text")
    assert books["dup_cluster"].n_unique() == 23 and books["dup_cluster_size"].max() == 1
    dedup = shared_scan.manifest["dedup"]
    assert dedup["duplicate_clusters"] >= 1 and dedup["docs_signed"] == docs.height
    report = json.loads((shared_scan.out / "report.json").read_text(encoding="utf-8"))
    assert report["totals"]["docs"] == docs.height
    assert report["totals"]["clusters"] == docs["dup_cluster"].n_unique() < docs.height
    assert len(report["tropes"]) == 10
    labelled = [t for t in report["tropes"].values() if t["docs"]]
    assert labelled, "the rules label some of the robot stories"
    for trope in labelled:
        assert trope["docs_dedup"] <= trope["docs"] and trope["ci95"][0] <= trope["per_million_docs"]
        assert trope["top_sources"]["dataset"]
