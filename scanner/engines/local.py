"""The local engine: shards in worker processes on this machine, one shard per worker at a time.

Workers are started with ``spawn`` (never ``fork``: a forked copy of a process holding torch or CUDA state is
not safe), each builds its labeler once and keeps it for every shard it is given. The supervisor hands out shards
in input order and waits on each worker's pipe and process sentinel together, so a worker that dies (killed,
out of memory, a crash in native code) is noticed at once: its shard is given to a fresh worker up to
``retries`` more times and then reported as failed, and the other shards go on. Log records travel from the
workers through a queue into this process's handlers.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import signal
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from scanner.engines.shard import ShardJob, ShardOutcome, ShardRunner, ShardTask, failed_outcome
from scanner.pipeline import ScanObserver, new_stats
from scanner.readers.inputs import InputFile
from scanner.stats import FileStats
from scanner.store.resume import discard

log = logging.getLogger(__name__)


class _Progress:
    """A worker's observer: sends how far the current shard got to the supervisor."""

    def __init__(self, conn: Connection, index: int) -> None:
        self.conn, self.index = conn, index

    def scan_started(self, inputs: list[InputFile]) -> None:
        pass

    def file_started(self, stats: FileStats) -> None:
        pass

    def advance(self, stats: FileStats, bytes_read: int) -> None:
        self.conn.send(("progress", self.index, stats.records_total, bytes_read))

    def file_finished(self, stats: FileStats) -> None:
        pass


def _worker_main(conn: Connection, job: ShardJob, logs: Any, level: int) -> None:
    """A worker process: scan the shards it is sent until it is sent ``None`` or its supervisor is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(logs)]
    root.setLevel(level)
    runner = ShardRunner(job)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        outcome = runner.run(task, observer=_Progress(conn, task.index))
        conn.send(("done", task.index, outcome))


def _forward_logs(logs: Any) -> None:
    while (record := logs.get()) is not None:
        logging.getLogger(record.name).handle(record)


@dataclass(slots=True)
class _Worker:
    process: Any  # multiprocessing.context.SpawnProcess
    conn: Connection
    task: ShardTask | None = None


def _describe_death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by signal {-exitcode} ({signal.Signals(-exitcode).name})"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


def run_local(
    job: ShardJob,
    tasks: list[ShardTask],
    *,
    workers: int,
    retries: int = 1,
    observer: ScanObserver | None = None,
) -> Iterator[ShardOutcome]:
    """The outcome of every task, in the order they finish, from ``workers`` worker processes."""
    ctx = multiprocessing.get_context("spawn")
    logs = ctx.Queue()
    forwarder = threading.Thread(target=_forward_logs, args=(logs,), name="tropescan-worker-logs", daemon=True)
    forwarder.start()
    level = logging.getLogger("scanner").getEffectiveLevel()
    pending: deque[ShardTask] = deque(tasks)
    attempts: dict[int, int] = {}
    placeholders: dict[int, FileStats] = {}
    pool: list[_Worker] = []
    finished = False

    def start() -> _Worker:
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_worker_main, args=(child, job, logs, level), name="tropescan-worker", daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent)

    def assign(worker: _Worker) -> None:
        task = pending.popleft()
        attempts[task.index] = attempts.get(task.index, 0) + 1
        worker.task = task
        if task.index not in placeholders:
            placeholders[task.index] = new_stats(task.file)
            if observer:
                observer.file_started(placeholders[task.index])
        try:
            worker.conn.send(task)
        except OSError:  # the worker died since its last shard: its sentinel says so, and the task is retried
            log.debug("worker %s gone before it was sent %s", worker.process.pid, task.file.source)

    try:
        for _ in range(min(workers, len(pending))):
            worker = start()
            pool.append(worker)
            assign(worker)
        while any(w.task is not None for w in pool):
            busy = [w for w in pool if w.task is not None]
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for worker in busy:
                if worker.conn not in ready and worker.process.sentinel not in ready:
                    continue
                outcome = _receive(worker, placeholders, observer)
                if outcome is None and worker.process.is_alive():
                    continue  # a progress message
                if outcome is None:  # the worker died with its shard
                    outcome = _died(worker, attempts, pending, retries, job)
                    pool.remove(worker)
                    if pending:
                        replacement = start()
                        pool.append(replacement)
                        assign(replacement)
                    if outcome is None:
                        continue  # queued again
                worker.task = None
                if observer:
                    observer.file_finished(outcome.stats)
                outcome.attempts = attempts[outcome.index]
                yield outcome
                if pending and worker in pool:
                    assign(worker)
        finished = True
    finally:
        for worker in pool:  # idle when every shard is done; else (an error, Ctrl-C) stopped where they are
            try:
                if finished:
                    worker.conn.send(None)
                else:
                    worker.process.kill()
            except OSError:
                pass
        for worker in pool:
            worker.process.join(timeout=30)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
        logs.put(None)
        forwarder.join(timeout=10)
        logs.close()


def _receive(worker: _Worker, placeholders: dict[int, FileStats], observer: ScanObserver | None) -> ShardOutcome | None:
    """Read the worker's messages that are waiting: its outcome when it sent one, else ``None``."""
    try:
        while worker.conn.poll():
            message = worker.conn.recv()
            if message[0] == "done":
                outcome: ShardOutcome = message[2]
                return outcome
            _, index, records, bytes_read = message
            stats = placeholders[index]
            stats.records_total, stats.bytes_read = records, bytes_read
            if observer:
                observer.advance(stats, bytes_read)
    except (EOFError, OSError):
        worker.process.join(timeout=10)
    return None


def _died(
    worker: _Worker, attempts: dict[int, int], pending: deque[ShardTask], retries: int, job: ShardJob
) -> ShardOutcome | None:
    """A worker died scanning its task: queue the task again, or (out of retries) its failed outcome."""
    worker.process.join(timeout=10)
    task = worker.task
    assert task is not None
    worker.task = None
    how = _describe_death(worker.process.exitcode)
    tries = attempts[task.index]
    if tries <= retries:
        log.warning("%s: the worker scanning it %s; scanning it again (attempt %d)", task.file.source, how, tries + 1)
        pending.appendleft(task)
        return None
    log.error(
        "%s: the worker scanning it %s, %d time(s); the shard is reported as failed", task.file.source, how, tries
    )
    discard(Path(job.out), task.file.shard)
    return failed_outcome(task, f"the worker process scanning it {how} ({tries} attempt(s))", attempts=tries)
