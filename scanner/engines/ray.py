"""The Ray engine: each shard a Ray task running :func:`scanner.engines.shard.ShardRunner.run`, and the dedup
pass's banding and bucketing a Ray shuffle (map: one task per shard turns its signatures into band hashes, one
object per band; reduce: one task per band groups its buckets into candidate pairs, with the same function the
local engine uses). Verification, components and the store rewrite run on the driver, as locally. The outputs
are the same bytes as the local engine's.

Ray is an optional dependency (``pip install 'tropescan[ray]'``). Without ``--ray-address`` a Ray instance is
started on this machine with ``--workers`` CPUs; with one, the driver joins that cluster and at most
``--workers`` shard tasks are in flight. On a cluster, every node must see the inputs (URLs, or a shared
filesystem) and the output directory (a shared filesystem): docs/scaling.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from scanner.config import DedupConfig
from scanner.dedup.cluster import DedupSummary, cluster_store
from scanner.engines import RunOptions
from scanner.engines.shard import ShardJob, ShardOutcome, ShardRunner, ShardTask, failed_outcome
from scanner.errors import ConfigError
from scanner.pipeline import ScanObserver, new_stats
from scanner.store.resume import discard

log = logging.getLogger(__name__)

_runner: ShardRunner | None = None  # per Ray worker process: the labeler is built once, kept for later shards


def connect(run: RunOptions) -> Any:
    """The ``ray`` module, connected: to the session this process already has, to ``run.ray_address``, or to
    a new local instance with ``run.workers`` CPUs."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("--engine ray needs Ray: pip install 'tropescan[ray]'") from exc
    if not ray.is_initialized():
        options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
        if run.ray_address:
            ray.init(address=run.ray_address, **options)
        else:
            ray.init(num_cpus=run.workers, **options)
    return ray


def _scan_shard(job: ShardJob, task: ShardTask) -> ShardOutcome:
    global _runner
    if _runner is None or _runner.job != job:  # a caller's own labeler arrives as a new object: a new runner
        _runner = ShardRunner(job)
    return _runner.run(task)


def run_ray(
    job: ShardJob, tasks: list[ShardTask], run: RunOptions, *, observer: ScanObserver | None = None
) -> Iterator[ShardOutcome]:
    """The outcome of every task, as they finish; at most ``run.workers`` in flight. Ray runs a task again when
    its worker process dies (``run.retries`` times); a shard whose task still fails is reported as failed."""
    ray = connect(run)
    remote = ray.remote(num_cpus=1, max_retries=run.retries)(_scan_shard)
    job_ref = ray.put(job)
    pending = list(reversed(tasks))
    in_flight: dict[Any, ShardTask] = {}
    while pending or in_flight:
        while pending and len(in_flight) < run.workers:
            task = pending.pop()
            in_flight[remote.remote(job_ref, task)] = task
            if observer:
                observer.file_started(new_stats(task.file))
        done, _ = ray.wait(list(in_flight), num_returns=1)
        for ref in done:
            task = in_flight.pop(ref)
            try:
                outcome: ShardOutcome = ray.get(ref)
            except ray.exceptions.RayError as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                log.error("%s: the Ray task scanning it failed: %s: %s", task.file.source, type(exc).__name__, first)
                discard(Path(job.out), task.file.shard)
                outcome = failed_outcome(
                    task, f"the Ray task scanning it failed ({type(exc).__name__}: {first})", attempts=run.retries + 1
                )
            if observer:
                observer.file_finished(outcome.stats)
            yield outcome


def _band_map(path: str, offset: int, num_perm: int, bands: int, rows: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Map: one shard's signatures as ``(hash, doc)`` arrays, one pair per band."""
    from scanner.dedup.cluster import band_batches

    batches = list(band_batches(Path(path), offset, num_perm, bands, rows))
    table = np.concatenate([h for h, _ in batches]) if batches else np.zeros((0, bands), dtype=np.uint64)
    doc = np.concatenate([d for _, d in batches]) if batches else np.zeros(0, dtype=np.uint32)
    return [(np.ascontiguousarray(table[:, k]), doc) for k in range(bands)]


def _band_reduce(*parts: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Reduce: one band's rows from every shard, grouped into candidate pairs (:func:`band_pairs`)."""
    from scanner.dedup.cluster import band_pairs

    if not parts:
        return np.zeros(0, dtype=np.uint64)
    return band_pairs(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))


class RayCandidates:
    """A :data:`scanner.dedup.cluster.CandidateFinder` that shuffles the band hashes through Ray's object
    store: map tasks over shards, one reduce task per band."""

    def __init__(self, run: RunOptions) -> None:
        self.run = run

    def __call__(
        self, paths: list[Path], num_perm: int, bands: int, rows: int, work: Path
    ) -> tuple[int, np.ndarray, np.ndarray]:
        from scanner.dedup.cluster import merge_pairs

        ray = connect(self.run)
        mapper = ray.remote(num_cpus=1, num_returns=bands, max_retries=self.run.retries)(_band_map)
        reducer = ray.remote(num_cpus=1, max_retries=self.run.retries)(_band_reduce)
        offset = 0
        maps: list[list[Any]] = []
        for path in paths:
            n = pq.ParquetFile(path).metadata.num_rows
            refs = mapper.remote(str(path), offset, num_perm, bands, rows)
            maps.append([refs] if bands == 1 else list(refs))
            offset += n
        reduced = [reducer.remote(*[m[k] for m in maps]) for k in range(bands)]

        a, b = merge_pairs(ray.get(ref) for ref in reduced)  # one band's pairs on the driver at a time
        return offset, a, b


def ray_cluster_store(out: Path, shards: list[str], config: DedupConfig, run: RunOptions) -> DedupSummary:
    """:func:`scanner.dedup.cluster.cluster_store` with the banding shuffled through Ray."""
    return cluster_store(out, shards, config, candidates=RayCandidates(run))
