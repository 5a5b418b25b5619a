"""The one place the stages are chained: read -> extract -> segment -> (label) -> write, file by file.

Each input file is scanned by :func:`scan_file` in bounded memory (one record at a time, rows flushed in row
groups); :func:`scan` runs the files in order and writes the manifest. Library code logs; only the CLI prints.
"""

from __future__ import annotations

import json
import logging
import time
from bisect import bisect_right
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from scanner import __version__
from scanner.config import ScanConfig
from scanner.data import DocLabels, Document
from scanner.dedup.cluster import DedupSummary, cluster_store
from scanner.dedup.minhash import MinHasher, Signatures, rows
from scanner.engines import RunOptions, available_cores
from scanner.errors import ConfigError, ShardError
from scanner.extract.segment import segment
from scanner.readers import reader_for
from scanner.readers.base import RecordContext
from scanner.readers.detect import detect_format
from scanner.readers.inputs import Ignored, InputFile, resolve_inputs, unique_shards
from scanner.readers.stream import InputStream
from scanner.stats import FileStats, totals
from scanner.store.atomic import write_atomic
from scanner.store.writer import ShardWriter

if TYPE_CHECKING:
    from scanner.classify.classifier import Classifier
    from scanner.engines.shard import ShardOutcome

log = logging.getLogger("scanner")
MANIFEST_VERSION = 2  # 2: timing moved to run.json, config_hash added
PROGRESS_EVERY = 64
BLOCK_DOCS = 64  # documents labelled together (their embedded passages share encoder batches)
BLOCK_CHARS = 4_000_000

Labeler = Callable[[Document], DocLabels]
"""Anything that labels a segmented document: normally a :class:`scanner.classify.Classifier`."""


class ScanObserver(Protocol):
    """Progress callbacks (the CLI draws them with rich). All optional to act on."""

    def scan_started(self, inputs: list[InputFile]) -> None: ...

    def file_started(self, stats: FileStats) -> None: ...

    def advance(self, stats: FileStats, bytes_read: int) -> None: ...

    def file_finished(self, stats: FileStats) -> None: ...


@dataclass(slots=True)
class ScanResult:
    config: ScanConfig
    out: Path
    files: list[FileStats]
    ignored: list[Ignored]
    wall_seconds: float
    classifier: dict[str, Any] | None = None
    dedup: DedupSummary | None = None
    config_hash: str | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)  # run.json

    @property
    def exit_code(self) -> int:
        """Non-zero only when an input named on the command line is missing or wholly unreadable."""
        return 1 if any(f.named and f.wholly_unreadable for f in self.files) else 0


def iter_file_documents(file: InputFile, config: ScanConfig, stats: FileStats) -> Generator[Document, None, None]:
    """Every record of one input file as a segmented :class:`Document`, counted into ``stats``.

    Raises :class:`ShardError` when the file as a whole cannot be read (not found, refused, not a known format).
    """
    try:
        stream = InputStream(file.source)
    except (OSError, ValueError) as exc:
        raise ShardError(file.source, "unreadable", f"cannot be opened ({exc})") from exc
    with stream:
        fmt = detect_format(file.source, stream.head, config.reader.format)
        stats.format = fmt
        ctx = RecordContext(file, fmt)
        reader = reader_for(fmt, config.reader)
        seg = config.segment
        complete = False
        try:
            for doc in reader.read_file(stream, ctx):
                if doc.skip_reason is None:
                    doc.passages = segment(doc.text, min_chars=seg.min_chars, max_chars=seg.max_chars)
                stats.add(doc)
                stats.bytes_read = stream.bytes_read
                yield doc
            if stats.records_total == 0:
                doc = ctx.skip(0, 0, "empty_file", "the file holds no records")
                stats.add(doc)
                yield doc
            complete = True
        finally:
            # Also when the consumer stops early (--limit): the digest covers the whole file either way.
            if complete or stats.records_total:
                stats.sha256 = stream.finish()
                stats.bytes_read = stream.bytes_read


def new_stats(file: InputFile) -> FileStats:
    return FileStats(
        source=file.source,
        key=file.key,
        shard=file.shard,
        dataset=file.dataset,
        named=file.named,
        size=file.size,
    )


def iter_documents(config: ScanConfig) -> Iterator[Document]:
    """Stream the documents of every input (no results written). Unreadable files are logged and passed over."""
    files, _ = resolve_inputs(config.inputs, dataset=config.dataset)
    for file in files:
        try:
            yield from iter_file_documents(file, config, new_stats(file))
        except ShardError as exc:
            log.error("%s", exc)


def scan_file(
    file: InputFile,
    config: ScanConfig,
    out: Path,
    *,
    labeler: Labeler | None = None,
    budget: int | None = None,
    observer: ScanObserver | None = None,
) -> FileStats:
    """Scan one file into ``out/docs/<shard>.parquet`` and ``out/hits/<shard>.parquet``.

    ``budget`` is the number of documents still allowed by ``--limit`` (``None``: no limit).
    """
    stats = new_stats(file)
    if observer:
        observer.file_started(stats)
    hasher = _hasher(config)
    writer = ShardWriter(out, file.shard, num_perm=hasher.num_perm if hasher else None)
    try:
        docs = iter_file_documents(file, config, stats)

        def within_budget() -> Iterator[Document]:
            for doc in docs:
                yield doc
                if budget is not None and stats.records_read >= budget:
                    log.info("%s: stopped after %d documents (--limit)", file.source, budget)
                    docs.close()
                    return

        for n, (doc, labels, signature) in enumerate(signed(labelled(within_budget(), labeler), hasher), 1):
            if labels is not None:
                stats.add_labels(labels)
            writer.add(doc, labels, signature)
            if observer and n % PROGRESS_EVERY == 0:
                observer.advance(stats, stats.bytes_read)
        writer.commit()
        if stats.wholly_unreadable:  # read to the end, yet every record was damaged: say so where status is read
            damage = ", ".join(f"{n} {reason}" for reason, n in sorted(stats.skipped_by_reason.items()))
            stats.message = f"no record could be read ({damage})"
    except ShardError as exc:
        writer.abort()
        stats.status = "refused" if exc.reason == "wat_refused" else "unreadable"
        stats.message = exc.message
        log.error("%s", exc)
        _reset_counts(stats)
    except Exception as exc:
        # A bug or an unforeseen failure in one file must not end the scan of the others; it is reported
        # with its traceback, the file's outputs are discarded and the exit status is non-zero.
        writer.abort()
        stats.status = "failed"
        stats.message = f"{type(exc).__name__}: {exc}"
        log.exception("%s: failed", file.source)
        _reset_counts(stats)
    if observer:
        observer.file_finished(stats)
    return stats


def labelled(docs: Iterable[Document], labeler: Labeler | None) -> Iterator[tuple[Document, DocLabels | None]]:
    """Each document with its labels (``None`` for skipped records or without a labeler), in order. A labeler
    with ``label_many`` (the classifier) labels blocks of up to ``BLOCK_DOCS`` documents / ``BLOCK_CHARS``
    characters at once, so that the embedding model sees full batches; memory stays bounded by the block."""
    many: Callable[[list[Document]], list[DocLabels]] | None = getattr(labeler, "label_many", None)
    if labeler is None or many is None:
        for doc in docs:
            yield doc, (labeler(doc) if labeler is not None and doc.skip_reason is None else None)
        return
    block: list[Document] = []
    chars = 0

    def flush() -> Iterator[tuple[Document, DocLabels | None]]:
        assert many is not None
        readable = [d for d in block if d.skip_reason is None]
        got = iter(many(readable)) if readable else iter(())
        for d in block:
            yield d, (next(got) if d.skip_reason is None else None)

    for doc in docs:
        block.append(doc)
        chars += len(doc.text)
        if len(block) >= BLOCK_DOCS or chars >= BLOCK_CHARS:
            yield from flush()
            block, chars = [], 0
    yield from flush()


def _hasher(config: ScanConfig) -> MinHasher | None:
    d = config.dedup
    if not d.enabled:
        return None
    return MinHasher(num_perm=d.num_perm, seed=d.seed, ngram=d.ngram, keep_above=d.exact_above)


def _labelled_passages(doc: Document, labels: DocLabels | None) -> list[tuple[int, int]]:
    """The spans of the passages holding a hit, in order."""
    if labels is None or not labels.hits:
        return []
    starts = [p.start for p in doc.passages]
    spans = set()
    for hit in labels.hits:
        i = bisect_right(starts, hit.start) - 1
        if i >= 0:
            spans.add((doc.passages[i].start, doc.passages[i].end))
    return sorted(spans)


def signed(
    pairs: Iterable[tuple[Document, DocLabels | None]], hasher: MinHasher | None
) -> Iterator[tuple[Document, DocLabels | None, Signatures | None]]:
    """Each labelled document with its MinHash signature and those of its labelled passages (``None`` for
    skipped records or without a hasher), in order; computed ``BLOCK_DOCS`` documents at a time."""
    if hasher is None:
        for doc, labels in pairs:
            yield doc, labels, None
        return
    block: list[tuple[Document, DocLabels | None]] = []

    def flush() -> Iterator[tuple[Document, DocLabels | None, Signatures | None]]:
        assert hasher is not None
        readable = [(d, labels) for d, labels in block if d.skip_reason is None]
        docs = iter(rows(hasher.sign([d.text for d, _ in readable]))) if readable else iter(())
        spans = [_labelled_passages(d, labels) for d, labels in readable]
        texts = [d.text[s:e] for (d, _), doc_spans in zip(readable, spans, strict=True) for s, e in doc_spans]
        passages = iter(rows(hasher.sign(texts))) if texts else iter(())
        per_doc = iter(spans)
        for d, labels in block:
            if d.skip_reason is not None:
                yield d, labels, None
                continue
            mine = {s: next(passages) for s, _ in next(per_doc)}
            yield d, labels, Signatures(next(docs), mine)

    for pair in pairs:
        block.append(pair)
        if len(block) >= BLOCK_DOCS:
            yield from flush()
            block = []
    yield from flush()


def _reset_counts(stats: FileStats) -> None:
    # A file whose outputs were discarded contributes no records (its partial counts would not match the store).
    stats.records_total = stats.records_read = stats.records_skipped = stats.chars = stats.passages = 0
    stats.ai_cue_docs = 0
    for counter in (
        stats.skipped_by_reason,
        stats.warnings_by_reason,
        stats.genre_docs,
        stats.trope_docs,
        stats.trope_passages,
    ):
        counter.clear()


def scan(
    config: ScanConfig,
    *,
    labeler: Labeler | None = None,
    observer: ScanObserver | None = None,
    run: RunOptions | None = None,
) -> ScanResult:
    """Scan every input of ``config`` into ``config.out``: the shards (kept from an earlier scan into the same
    directory when complete and unchanged), the dedup pass, ``manifest.json``, the reports and ``run.json``.

    ``labeler`` defaults to the classifier that ``config.classify`` describes; the taxonomy is loaded and
    validated before any input is read (an invalid one raises :class:`ConfigError`). ``run`` says how the shards
    are run (engine, workers); the output is the same whatever it says.
    """
    run = run or RunOptions()
    started = time.perf_counter()
    if config.dedup.enabled and config.dedup.against:  # refused before any input is read
        from scanner.dedup.index import check_index

        check_index(Path(config.dedup.against), config.dedup)
    if config.report.eval:
        from scanner.aggregate.adjust import load_eval

        load_eval(Path(config.report.eval))
    classifier_info: dict[str, Any] | None = None
    classifier: Classifier | None = None
    custom = labeler
    if labeler is None and config.classify.enabled:
        from scanner.classify.factory import build_classifier

        classifier = build_classifier(config.classify)
        labeler, classifier_info = classifier, classifier.describe()
    elif labeler is not None and callable(getattr(labeler, "describe", None)):
        classifier_info = labeler.describe()  # type: ignore[attr-defined]
    from scanner.store.resume import shard_hash

    digest = shard_hash(config, classifier_info, custom)
    out = Path(config.out)
    files, inputs, ignored = _resolve(config)
    out.mkdir(parents=True, exist_ok=True)
    if observer:
        observer.scan_started(inputs)
    outcomes = _run_shards(config, inputs, out, digest, labeler=labeler, custom=custom, observer=observer, run=run)
    files.extend(o.stats for o in outcomes)
    if classifier is not None and classifier_info is not None:  # how far passages went down the cascade
        tiers = dict.fromkeys(classifier.tier_totals, 0)
        for o in outcomes:
            for tier, n in o.tiers.items():
                tiers[tier] = tiers.get(tier, 0) + n
        classifier_info["passages_by_tier"] = tiers
    dedup: DedupSummary | None = None
    if config.dedup.enabled:
        shards = [f.shard for f in files if f.status == "ok" and f.shard]
        if run.engine == "ray":
            from scanner.engines.ray import ray_cluster_store

            dedup = ray_cluster_store(out, shards, config.dedup, run)
        else:
            dedup = cluster_store(out, shards, config.dedup)
    result = ScanResult(
        config=config,
        out=out,
        files=files,
        ignored=ignored,
        wall_seconds=0.0,
        classifier=classifier_info,
        dedup=dedup,
        config_hash=digest,
    )
    result.manifest = write_manifest(result)
    from scanner.aggregate.report import build_report, write_report

    report_eval = Path(config.report.eval) if config.report.eval else None
    write_report(out, build_report(out, eval_file=report_eval, top=config.report.top))
    result.wall_seconds = time.perf_counter() - started
    result.run = write_run(result, run, outcomes)
    return result


RESOLVE_THREADS = 16  # inputs resolved at once (a URL costs a HEAD request; a crawl lists tens of thousands)


def _resolve(config: ScanConfig) -> tuple[list[FileStats], list[InputFile], list[Ignored]]:
    """The inputs to scan (unique shard names, in order), and the named inputs that are missing."""

    def one(arg: str) -> tuple[list[InputFile], list[Ignored]] | ShardError:
        try:
            return resolve_inputs([arg], dataset=config.dataset)
        except ShardError as exc:
            return exc

    if len(config.inputs) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=RESOLVE_THREADS) as pool:
            resolved = list(pool.map(one, config.inputs))  # in argument order
    else:
        resolved = [one(arg) for arg in config.inputs]
    missing: list[FileStats] = []
    inputs: list[InputFile] = []
    ignored: list[Ignored] = []
    for arg, got in zip(config.inputs, resolved, strict=True):
        if isinstance(got, ShardError):
            log.error("%s", got)
            missing.append(
                FileStats(
                    source=arg,
                    key=arg,
                    shard="",
                    dataset=config.dataset or "",
                    named=True,
                    size=None,
                    status="missing",
                    message=got.message,
                )
            )
            continue
        inputs.extend(got[0])
        ignored.extend(got[1])
    return missing, unique_shards(inputs), ignored  # names must not collide across separately named inputs either


def _run_shards(
    config: ScanConfig,
    inputs: list[InputFile],
    out: Path,
    digest: str,
    *,
    labeler: Labeler | None,
    custom: Labeler | None,
    observer: ScanObserver | None,
    run: RunOptions,
) -> list[ShardOutcome]:
    """Every input's shard, by the engine ``run`` names; the outcomes in input order."""
    from scanner.engines.shard import ShardJob, ShardRunner, ShardTask

    threads = max(1, available_cores() // run.workers) if run.workers > 1 else None
    job = ShardJob(config=config, out=str(out), digest=digest, labeler=custom, threads=threads)
    tasks = [ShardTask(i, f) for i, f in enumerate(inputs)]
    if config.limit is None and (run.engine == "ray" or (run.workers > 1 and len(tasks) > 1)):
        if run.engine == "ray":
            from scanner.engines.ray import run_ray

            found = run_ray(job, tasks, run, observer=observer)
        else:
            from scanner.engines.local import run_local

            _check_picklable(custom)
            found = run_local(job, tasks, workers=run.workers, retries=run.retries, observer=observer)
        by_index = {o.index: o for o in found}
        return [by_index[t.index] for t in tasks]
    if config.limit is not None and run.workers > 1:
        log.info("--limit takes the first documents in input order: the shards are scanned one after another")
    runner = ShardRunner(job, labeler=labeler)  # in this process, in order (--limit's budget runs across files)
    outcomes: list[ShardOutcome] = []
    remaining = config.limit
    for task in tasks:
        if remaining is not None and remaining <= 0:
            break
        outcome = runner.run(ShardTask(task.index, task.file, remaining), observer=observer)
        outcomes.append(outcome)
        if remaining is not None:
            remaining -= outcome.stats.records_read
    return outcomes


def _check_picklable(labeler: Labeler | None) -> None:
    if labeler is None:
        return
    import pickle

    try:
        pickle.dumps(labeler)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"the labeler cannot be sent to worker processes ({exc}): define it at module level, or scan with "
            "one worker"
        ) from exc


def write_manifest(result: ScanResult) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "tropescan_version": __version__,
        "config": result.config.model_dump(mode="json"),
        "config_hash": result.config_hash,
        "classifier": result.classifier,
        "inputs": [f.to_json() for f in result.files],
        "ignored_files": [{"source": i.source, "reason": i.reason} for i in result.ignored],
        "counts": totals(result.files),
        "dedup": result.dedup.to_json() if result.dedup is not None else None,
    }
    write_atomic(result.out / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def write_run(result: ScanResult, run: RunOptions, outcomes: list[ShardOutcome]) -> dict[str, Any]:
    """``run.json``: how this run went (engine, workers, wall times, shards kept or retried). The one file of a
    results directory that differs between runs of the same scan."""
    info: dict[str, Any] = {
        "tropescan_version": __version__,
        "engine": run.engine,
        "workers": run.workers,
        "ray_address": run.ray_address,
        "wall_seconds": round(result.wall_seconds, 3),
        "dedup_seconds": result.dedup.seconds if result.dedup is not None else None,
        "dedup_phase_seconds": (
            {k: round(v, 3) for k, v in result.dedup.phase_seconds.items()} if result.dedup is not None else None
        ),
        "shards": {
            "scanned": sum(1 for o in outcomes if not o.reused),
            "kept": [o.stats.shard for o in outcomes if o.reused],
            "retried": {o.stats.shard: o.attempts for o in outcomes if o.attempts > 1},
            "failed": [o.stats.shard for o in outcomes if o.stats.status == "failed"],
        },
    }
    write_atomic(result.out / "run.json", json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    return info
