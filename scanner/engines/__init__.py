"""Engines: how the shards of a scan are run. Every engine runs the same single-shard function
(:func:`scanner.engines.shard.run_shard`) and the outputs do not depend on which engine ran it, or on how many
workers it had.

- ``local`` (:mod:`scanner.engines.local`): in this process (one worker), or worker processes on this machine;
  a worker that dies takes only its shard down, and that shard is retried.
- ``ray`` (:mod:`scanner.engines.ray`): each shard a Ray task, and the dedup pass's banding a Ray shuffle, on a
  local Ray instance or a cluster (``pip install tropescan[ray]``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

EngineName = Literal["local", "ray"]
ENGINES = ("local", "ray")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), not the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """How a scan runs, as opposed to what it computes (:class:`scanner.config.ScanConfig`): none of these
    changes a byte of the output, so they are recorded in ``run.json``, not in the manifest."""

    engine: EngineName = "local"
    workers: int = 1  # processes (local) or concurrent tasks (ray); the CLI's default is available_cores()
    ray_address: str | None = None  # None: start a Ray instance on this machine
    retries: int = 1  # times a shard is scanned again after its worker died

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, not {self.workers}")
        if self.retries < 0:
            raise ValueError(f"retries must be at least 0, not {self.retries}")
