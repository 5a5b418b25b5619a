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
    """Implements :class:`scanner.pipeline.ScanObserver` with one overall bar and one bar for the current file."""

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
        self.current: TaskID | None = None
        self.started = self.file_started_at = time.perf_counter()

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
        self.current = self.progress.add_task(name, total=stats.size, records=0, rate="0")
        self.file_started_at = time.perf_counter()

    def advance(self, stats: FileStats, bytes_read: int) -> None:
        records = self.done_records + stats.records_total
        if self.current is not None:
            self.progress.update(
                self.current,
                completed=bytes_read,
                records=f"{stats.records_total:,}",
                rate=self._rate(stats.records_total, self.file_started_at),
            )
        self.progress.update(
            self.overall,
            completed=self.done_bytes + bytes_read,
            records=f"{records:,}",
            rate=self._rate(records),
        )

    def file_finished(self, stats: FileStats) -> None:
        self.done_files += 1
        self.done_bytes += stats.size or stats.bytes_read
        self.done_records += stats.records_total
        if self.current is not None:
            self.progress.update(
                self.current,
                completed=stats.size or stats.bytes_read,
                records=f"{stats.records_total:,}",
                rate=self._rate(stats.records_total, self.file_started_at),
            )
            self.progress.remove_task(self.current)
            self.current = None
        self.progress.update(
            self.overall,
            description=f"all files ({self.done_files}/{self.n_files})",
            completed=self.done_bytes,
            records=f"{self.done_records:,}",
            rate=self._rate(self.done_records),
        )
