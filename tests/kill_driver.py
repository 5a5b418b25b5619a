"""Run a scan that SIGKILLs itself at a chosen point (used by test_engines.py in a subprocess).

    python tests/kill_driver.py CORPUS OUT POINT WORKERS

POINT: ``reading`` (the 5th record of the third shard, once the earlier shards are complete), ``classification``
(labelling the first document with a CORRIGIBLEMARK), ``dedup`` (after two docs tables were given their cluster
columns), ``report`` (after report.json was written, before report.md).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

from engine_helpers import KillingLabeler, StubLabeler

import scanner.aggregate.report as report_module
import scanner.dedup.cluster as cluster_module
import scanner.pipeline as pipeline
from scanner.config import ScanConfig
from scanner.engines import RunOptions


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _after(n: int, original: Any) -> Any:
    calls = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls > n:
            _die()
        return original(*args, **kwargs)

    return wrapper


def main(corpus: str, out: str, point: str, workers: int) -> None:
    labeler: StubLabeler = StubLabeler()
    if point == "reading":
        original = pipeline.iter_file_documents
        seen: list[str] = []

        def reading(file: Any, config: Any, stats: Any) -> Iterator[Any]:
            seen.append(file.shard)
            for n, doc in enumerate(original(file, config, stats)):
                if len(seen) == 3 and n == 4:
                    _die()
                yield doc

        pipeline.iter_file_documents = reading  # type: ignore[assignment]
    elif point == "classification":
        labeler = KillingLabeler("CORRIGIBLEMARK")
    elif point == "dedup":
        cluster_module._fill = _after(2, cluster_module._fill)  # type: ignore[attr-defined]
    elif point == "report":
        report_module.write_atomic = _after(1, report_module.write_atomic)  # type: ignore[attr-defined]
    else:
        raise SystemExit(f"unknown point {point}")
    config = ScanConfig.build(inputs=[corpus], out=out)
    pipeline.scan(config, labeler=labeler, run=RunOptions(workers=workers))
    raise SystemExit("the scan was not killed")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
