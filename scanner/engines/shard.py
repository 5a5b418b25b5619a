"""The single-shard function every engine runs: keep a complete shard, or scan it into the store and mark it.

A :class:`ShardJob` is what every worker needs (picklable: it travels to worker processes and Ray tasks); a
:class:`ShardRunner` holds one process's labeler, built on first use and kept for the next shards.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from scanner.config import ScanConfig
from scanner.pipeline import Labeler, ScanObserver, new_stats, scan_file
from scanner.readers.inputs import InputFile
from scanner.stats import FileStats
from scanner.store import resume

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ShardTask:
    index: int  # position in the scan's input order
    file: InputFile
    budget: int | None = None  # documents still allowed by --limit (None: no limit)


@dataclass(slots=True)
class ShardOutcome:
    index: int
    stats: FileStats
    tiers: dict[str, int]  # passages per classifier tier in this shard
    reused: bool = False  # kept from an earlier scan into the same --out
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class ShardJob:
    config: ScanConfig
    out: str
    digest: str  # resume.shard_hash of the config and classifier
    labeler: Labeler | None = None  # a caller's own labeler; None: the classifier config.classify describes
    threads: int | None = None  # torch threads per worker (None: the cores the process may use)


class ShardRunner:
    """Runs shards of one job in one process."""

    def __init__(self, job: ShardJob, *, labeler: Labeler | None = None) -> None:
        self.job = job
        self._labeler = labeler if labeler is not None else job.labeler
        self._built = self._labeler is not None or not job.config.classify.enabled

    def labeler(self) -> Labeler | None:
        if not self._built:
            from scanner.classify.encoder import set_default_threads
            from scanner.classify.factory import build_classifier

            set_default_threads(self.job.threads)
            self._labeler = build_classifier(self.job.config.classify)
            self._built = True
        return self._labeler

    def run(self, task: ShardTask, *, observer: ScanObserver | None = None) -> ShardOutcome:
        """The shard of ``task``: kept when an earlier scan completed it with the same settings and input,
        else scanned (its marker written when it is whole; everything it wrote removed when it is not)."""
        job, file = self.job, task.file
        out = Path(job.out)
        kept = resume.reusable(out, file, config=job.config, digest=job.digest, budget=task.budget)
        if kept is not None:
            log.info("%s: kept from an earlier scan (%s)", file.source, resume.marker_path(out, file.shard))
            if observer:
                observer.file_started(kept.stats)
                observer.file_finished(kept.stats)
            return ShardOutcome(task.index, kept.stats, kept.tiers, reused=True)
        resume.forget(out, file.shard)
        labeler = self.labeler()
        before = dict(getattr(labeler, "tier_totals", None) or {})
        stats = scan_file(file, job.config, out, labeler=labeler, budget=task.budget, observer=observer)
        after: dict[str, int] = dict(getattr(labeler, "tier_totals", None) or {})
        tiers = {k: v - before.get(k, 0) for k, v in after.items()}
        if stats.status == "ok":
            resume.write_marker(out, stats, config=job.config, digest=job.digest, budget=task.budget, tiers=tiers)
        else:
            resume.discard(out, file.shard)
        return ShardOutcome(task.index, stats, tiers)


def failed_outcome(task: ShardTask, message: str, *, attempts: int) -> ShardOutcome:
    """The outcome of a shard whose worker never returned (it died, or the engine lost it)."""
    stats = new_stats(task.file)
    stats.status = "failed"
    stats.message = message
    return ShardOutcome(task.index, stats, {}, attempts=attempts)
