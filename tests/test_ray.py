"""The Ray engine against a Ray head started on loopback for this module: the same bytes as the local engine,
and a shard whose Ray worker keeps dying fails alone. Skipped where Ray is not installed (``tropescan[ray]``)."""

from __future__ import annotations

import importlib.util
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import KillingLabeler, StubLabeler, assert_same_tree, out_beside, run_info, tree, write_corpus

from scanner.config import ScanConfig
from scanner.engines import RunOptions
from scanner.pipeline import ScanResult, scan

if importlib.util.find_spec("ray") is None:
    pytest.skip("Ray is an optional extra: pip install 'tropescan[ray]'", allow_module_level=True)

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def ray_head() -> Iterator[str]:
    """``ray start --head`` on 127.0.0.1 with 2 CPUs and token authentication (a token of its own, in the
    environment, so that a stale ``~/.ray/auth_token`` left by an earlier local Ray cannot get in the way); this
    process joins it with the tests directory as its working_dir, so that Ray workers can unpickle the test
    labelers. Stopped (``ray stop``) afterwards."""
    cli = str(Path(sys.executable).with_name("ray"))
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 characters
    start = [cli, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2"]
    start += ["--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"]
    address = f"127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_AUTH_MODE", "token")
        env.setenv("RAY_AUTH_TOKEN", secrets.token_hex(32))
        import ray  # after the token is in the environment: Ray reads it when it is imported

        try:
            subprocess.run(start, check=True, capture_output=True, timeout=600)
            ray.init(address=address, runtime_env={"working_dir": str(Path(__file__).parent)}, logging_level="ERROR")
            yield address
        finally:
            ray.shutdown()
            subprocess.run([cli, "stop", "--force"], capture_output=True, timeout=300, check=False)
            shutil.rmtree(temp, ignore_errors=True)


def _scan(corpus: Path, out: Path, labeler: Any, run: RunOptions) -> ScanResult:
    return scan(ScanConfig.build(inputs=[str(corpus)], out=str(out)), labeler=labeler, run=run)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("ray-corpus"))


@pytest.fixture(scope="module")
def reference(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("ray-reference")
    _scan(corpus, base / "out", StubLabeler(), RunOptions(workers=1))
    return (base / "out").rename(base / "reference")


def test_ray_writes_the_same_bytes_as_the_local_engine(ray_head: str, corpus: Path, reference: Path) -> None:
    out = out_beside(reference)
    result = _scan(corpus, out, StubLabeler(), RunOptions(engine="ray", workers=2, ray_address=ray_head))
    assert all(f.status == "ok" for f in result.files)
    assert result.manifest["dedup"]["duplicate_clusters"] >= 1  # the shuffle found the copies across shards
    assert_same_tree(out, reference)
    info = run_info(out)
    assert (info["engine"], info["ray_address"], info["shards"]["scanned"]) == ("ray", ray_head, 6)


def test_a_shard_whose_ray_worker_keeps_dying_fails_alone(ray_head: str, corpus: Path, reference: Path) -> None:
    out = out_beside(reference)
    run = RunOptions(engine="ray", workers=2, ray_address=ray_head, retries=1)
    result = _scan(corpus, out, KillingLabeler("CORRIGIBLEMARK"), run)
    status = {f.shard: f.status for f in result.files}
    assert status.pop("datasets__part-0.jsonl") == "failed"
    assert set(status.values()) == {"ok"}
    failed = next(f for f in result.files if f.status == "failed")
    assert "Ray task" in (failed.message or "")
    assert not (out / "docs" / "datasets__part-0.jsonl.parquet").exists()
    # and a second scan, on the local engine, scans that shard and keeps the five others
    _scan(corpus, out, StubLabeler(), RunOptions(workers=1))
    assert sorted(run_info(out)["shards"]["kept"]) == sorted(status)
    assert_same_tree(out, reference)


def test_cli_joins_a_ray_cluster_by_address(ray_head: str, corpus: Path, tmp_path: Path) -> None:
    """A separate driver process joining the head by --ray-address (the real classifier's rules stage in the
    Ray workers), against the local engine in this process."""
    out = tmp_path / "out"
    command = [sys.executable, "-m", "scanner", "scan", str(corpus), "-o", str(out), "-q", "--stage", "rules"]
    done = subprocess.run(
        [*command, "--engine", "ray", "--ray-address", ray_head, "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert run_info(out)["engine"] == "ray"
    ray_tree = tree(out)
    shutil.rmtree(out)
    local = scan(ScanConfig.build(inputs=[str(corpus)], out=str(out), classify={"stage": "rules"}))
    assert local.manifest["classifier"]["stage"] == "rules"
    assert tree(out) == ray_tree
