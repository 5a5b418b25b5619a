"""Local engine: N worker processes write the same bytes as one; a worker that dies fails (after retries) only
its shard. Resume: a scan into an existing --out keeps complete, unchanged shards and redoes the rest."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from engine_helpers import KillingLabeler, StubLabeler, assert_same_tree, out_beside, run_info, tree, write_corpus

from scanner.config import ScanConfig, SegmentConfig
from scanner.engines import RunOptions
from scanner.errors import ConfigError
from scanner.pipeline import ScanResult, scan


def _scan(corpus: Path, out: Path, *, workers: int = 1, labeler: object | None = None, **config: object) -> ScanResult:
    cfg = ScanConfig.build(inputs=[str(corpus)], out=str(out), **config)
    return scan(cfg, labeler=labeler or StubLabeler(), run=RunOptions(workers=workers))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("engines"))


@pytest.fixture(scope="module")
def reference(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One worker, into ``<dir>/out``, then moved to ``<dir>/reference``: other runs scan into ``<dir>/out``
    too, so that the manifest (which records --out) can be compared byte for byte."""
    base = tmp_path_factory.mktemp("reference")
    result = _scan(corpus, base / "out")
    assert [f.status for f in result.files] == ["ok"] * 6
    assert result.manifest["dedup"]["duplicate_clusters"] >= 1
    return (base / "out").rename(base / "reference")


def test_workers_write_the_same_bytes_as_one(corpus: Path, reference: Path) -> None:
    out = out_beside(reference)
    result = _scan(corpus, out, workers=3)
    assert_same_tree(out, reference)
    info = run_info(out)
    assert (info["engine"], info["workers"], info["shards"]["scanned"], info["shards"]["kept"]) == ("local", 3, 6, [])
    assert result.exit_code == 0


def test_a_worker_killed_once_is_retried(corpus: Path, reference: Path, tmp_path: Path) -> None:
    out = out_beside(reference)
    flag = tmp_path / "killed-once"
    _scan(corpus, out, workers=2, labeler=KillingLabeler("CORRIGIBLEMARK", once_flag=str(flag)))
    assert flag.exists()
    assert_same_tree(out, reference)
    assert run_info(out)["shards"]["retried"] == {"datasets__part-0.jsonl": 2}


def test_a_worker_that_always_dies_fails_only_its_shard(
    corpus: Path, reference: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = out_beside(reference)
    result = _scan(corpus, out, workers=2, labeler=KillingLabeler("CORRIGIBLEMARK"))
    status = {f.shard: f.status for f in result.files}
    assert status.pop("datasets__part-0.jsonl") == "failed"
    assert set(status.values()) == {"ok"}
    failed = next(f for f in result.files if f.status == "failed")
    assert "SIGKILL" in (failed.message or "") and "2 attempt" in (failed.message or "")
    assert (failed.records_total, failed.records_read) == (0, 0)
    assert not (out / "docs" / "datasets__part-0.jsonl.parquet").exists()
    assert not list(out.rglob(".*.tmp"))
    assert result.manifest["counts"]["files_by_status"] == {"failed": 1, "ok": 5}
    assert run_info(out)["shards"]["failed"] == ["datasets__part-0.jsonl"]
    assert any("reported as failed" in r.getMessage() for r in caplog.records)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["totals"]["records_total"] == sum(f.records_total for f in result.files)
    # the next scan into the same directory scans that shard again and keeps the others
    again = _scan(corpus, out, workers=2)
    assert sorted(run_info(out)["shards"]["kept"]) == sorted(status)
    assert all(f.status == "ok" for f in again.files)
    assert_same_tree(out, reference)


def test_an_unpicklable_labeler_is_refused_for_workers(corpus: Path, tmp_path: Path) -> None:
    class Local(StubLabeler):  # defined in a function: worker processes cannot import it
        pass

    with pytest.raises(ConfigError, match="cannot be sent to worker processes"):
        _scan(corpus, tmp_path / "out", workers=2, labeler=Local())


def test_limit_scans_in_order_whatever_the_workers(corpus: Path, tmp_path: Path) -> None:
    one = _scan(corpus, tmp_path / "a", limit=40)
    two = _scan(corpus, tmp_path / "b", workers=2, limit=40)
    assert one.manifest["counts"] == two.manifest["counts"]
    assert one.manifest["counts"]["records_read"] == 40


# ------------------------------------------------------------------------------------------------------------
# resume
# ------------------------------------------------------------------------------------------------------------


def test_a_second_scan_keeps_every_complete_shard(corpus: Path, reference: Path) -> None:
    out = out_beside(reference)
    shutil.copytree(reference, out)
    _scan(corpus, out)
    info = run_info(out)
    assert (info["shards"]["scanned"], len(info["shards"]["kept"])) == (0, 6)
    assert_same_tree(out, reference)


def test_changed_settings_rescan_every_shard(corpus: Path, reference: Path) -> None:
    out = out_beside(reference)
    shutil.copytree(reference, out)
    result = _scan(corpus, out, segment=SegmentConfig(min_chars=100, max_chars=400))
    assert run_info(out)["shards"]["kept"] == []
    assert result.manifest["config_hash"] != json.loads((reference / "manifest.json").read_text())["config_hash"]


@pytest.mark.parametrize(
    "damage",
    ["docs_missing", "docs_truncated", "marker_garbled", "marker_of_other_settings", "input_changed"],
)
def test_a_shard_that_does_not_match_its_marker_is_scanned_again(
    corpus: Path, reference: Path, tmp_path: Path, damage: str
) -> None:
    work = tmp_path / "corpus"
    shutil.copytree(corpus, work)
    base = _scan(work, tmp_path / "out").out
    shard = "datasets__part-1.jsonl"
    if damage == "docs_missing":
        (base / "docs" / f"{shard}.parquet").unlink()
    elif damage == "docs_truncated":
        path = base / "docs" / f"{shard}.parquet"
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "marker_garbled":
        (base / "shards" / f"{shard}.json").write_text("{not json")
    elif damage == "marker_of_other_settings":
        marker = base / "shards" / f"{shard}.json"
        data = json.loads(marker.read_text())
        data["shard_hash"] = "0" * 64
        marker.write_text(json.dumps(data))
    else:  # same size, other bytes
        path = work / "datasets" / "part-1.jsonl"
        data = path.read_bytes()
        path.write_bytes(data.replace(b"more0", b"MORE0"))
    _scan(work, base)
    kept = run_info(base)["shards"]["kept"]
    assert shard not in kept and len(kept) == 5
    fresh = _scan(work, tmp_path / "fresh").out  # what an uninterrupted scan of the inputs as they are now writes
    resumed, want = tree(base), tree(fresh)
    assert json.loads(resumed.pop("manifest.json"))["inputs"] == json.loads(want.pop("manifest.json"))["inputs"]
    assert resumed == want


# ------------------------------------------------------------------------------------------------------------
# SIGKILL, then resume
# ------------------------------------------------------------------------------------------------------------

KILLED_AFTER = {  # shards complete (and kept by the resumed scan) when the scan is killed there, with one worker
    "reading": 2,
    "classification": 1,
    "dedup": 6,
    "report": 6,
}


@pytest.mark.parametrize(("point", "workers"), [*((p, 1) for p in KILLED_AFTER), ("dedup", 2)])
def test_a_scan_killed_then_resumed_writes_the_same_bytes(
    corpus: Path, reference: Path, point: str, workers: int
) -> None:
    out = out_beside(reference)
    driver = Path(__file__).with_name("kill_driver.py")
    killed = subprocess.run(
        [sys.executable, str(driver), str(corpus), str(out), point, str(workers)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (out / "run.json").exists()  # it never finished
    _scan(corpus, out)
    kept = run_info(out)["shards"]["kept"]
    if workers == 1:
        assert len(kept) == KILLED_AFTER[point], kept
    assert_same_tree(out, reference)


def test_cli_scans_a_gzipped_input_list_with_workers(corpus: Path, tmp_path: Path) -> None:
    import gzip

    from typer.testing import CliRunner

    from scanner.cli.app import _register, app

    _register()
    names = sorted(str(p.relative_to(corpus)) for p in corpus.rglob("*") if p.is_file())
    listing = tmp_path / "inputs.paths.gz"
    listing.write_bytes(gzip.compress(("# six shards\n\n" + "\n".join(names) + "\n").encode()))
    out = tmp_path / "out"
    args = ["scan", "--inputs-from", str(listing), "--input-prefix", f"{corpus}/", "--workers", "2", "--no-classify"]
    result = CliRunner().invoke(app, [*args, "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["source"] for e in manifest["inputs"]] == [f"{corpus}/{n}" for n in names]
    assert run_info(out)["workers"] == 2
    bad = tmp_path / "empty.paths"
    bad.write_text("# nothing\n")
    refused = CliRunner().invoke(app, ["scan", "--inputs-from", str(bad), "-o", str(tmp_path / "x")])
    assert refused.exit_code == 2 and "lists no inputs" in refused.output
