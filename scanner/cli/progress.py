"""A rich progress display for scans: records/s, MB/s, per-file progress, ETA when sizes are known."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from scanner.readers.inputs import InputFile
from scanner.stats import FileStats


class RichObserver:
    """Implements :class:`scanner.pipeline.ScanObserver` with one overall bar and one bar per file in progress
    (several when worker processes scan files side by side)."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[records]} records, {task.fields[rate]}/s", markup=False),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.overall: TaskID = self.progress.add_task("all files", total=None, records=0, rate="0")
        self.n_files = 0
        self.done_files = 0
        self.done_bytes = 0
        self.done_records = 0
        self.current: dict[str, tuple[TaskID, float]] = {}  # shard -> (its bar, when it started)
        self.in_flight: dict[str, tuple[int, int]] = {}  # shard -> (records, bytes) so far
        self.started = time.perf_counter()

    def __enter__(self) -> RichObserver:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _rate(self, records: int, since: float | None = None) -> str:
        elapsed = max(time.perf_counter() - (self.started if since is None else since), 1e-6)
        return f"{records / elapsed:,.0f}"

    def scan_started(self, inputs: list[InputFile]) -> None:
        sizes = [f.size for f in inputs]
        total = None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)
        self.n_files = len(inputs)
        self.progress.update(self.overall, description=f"all files (0/{self.n_files})", total=total)

    def file_started(self, stats: FileStats) -> None:
        name = stats.source if len(stats.source) <= 48 else "…" + stats.source[-47:]
        bar = self.progress.add_task(name, total=stats.size, records=0, rate="0")
        self.current[stats.shard] = (bar, time.perf_counter())
        self.in_flight[stats.shard] = (0, 0)

    def _update_overall(self) -> None:
        records = self.done_records + sum(r for r, _ in self.in_flight.values())
        self.progress.update(
            self.overall,
            description=f"all files ({self.done_files}/{self.n_files})",
            completed=self.done_bytes + sum(b for _, b in self.in_flight.values()),
            records=f"{records:,}",
            rate=self._rate(records),
        )

    def advance(self, stats: FileStats, bytes_read: int) -> None:
        self.in_flight[stats.shard] = (stats.records_total, bytes_read)
        if stats.shard in self.current:
            bar, since = self.current[stats.shard]
            self.progress.update(
                bar,
                completed=bytes_read,
                records=f"{stats.records_total:,}",
                rate=self._rate(stats.records_total, since),
            )
        self._update_overall()

    def file_finished(self, stats: FileStats) -> None:
        self.done_files += 1
        self.done_bytes += stats.size or stats.bytes_read
        self.done_records += stats.records_total
        self.in_flight.pop(stats.shard, None)
        if stats.shard in self.current:
            bar, _ = self.current.pop(stats.shard)
            self.progress.remove_task(bar)
        self._update_overall()
