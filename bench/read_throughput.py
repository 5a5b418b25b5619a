"""Read throughput of ``tropescan scan`` on Common-Crawl-sized WET and WARC shards, against its floors.

On a WET shard (default 200 MB compressed) and a WARC shard (default 100 MB compressed), built once from the
real pages in ``../shared/corpora`` by :mod:`build_shards` and cached in ``.bench-cache/``, it measures in one
run, sequentially, the median of ``--repeat`` repetitions of:

* **gzip floor**: Python's ``gzip`` module reading the shard in 1 MiB chunks (discarded): MB/s of
  decompressed bytes. (python-isal's ``igzip``, which the scanner uses, is timed too, for information.)
* **scan**: ``scanner.pipeline.scan(ScanConfig.build(inputs=[shard], out=tmp))``, i.e. read + extract +
  segment + write the docs parquet: MB/s of decompressed bytes, documents/s and the ratio to the gzip floor.
* **resiliparse alone** (WARC shard): FastWARC ``ArchiveIterator(record_types=response, parse_http=True)``
  and, for HTML responses, ``extract_plain_text(HTMLTree.parse(bytes_to_str(payload, detect_encoding(payload))),
  preserve_formatting=True, main_content=True)``: the work the WARC scan cannot avoid.

It then runs the scan of a small and a large WET shard (default 50 and 200 MB) each in a fresh subprocess and
reads the child's peak RSS (``VmHWM``, checked against GNU ``time``; see :func:`peak_rss` for why not
``ru_maxrss``) to show memory does not grow with the shard.

Targets: WET scan >= 0.6x the gzip floor; WARC scan >= 0.5x resiliparse alone (in throughput, i.e.
t_resiliparse / t_scan >= 0.5); peak RSS independent of the shard size.

Usage::

    python bench/read_throughput.py                      # full run (about 7 minutes on 2 cores)
    python bench/read_throughput.py --quick              # small shards, smoke run
    python bench/read_throughput.py --json results.json --profile 25
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import io
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_shards import CORPORA, DEFAULT_CACHE, DEFAULT_SEED, build_shard

CHUNK = 1 << 20
MB = 1_000_000
WET_TARGET = 0.6
WARC_TARGET = 0.5
RSS_TOLERANCE = 0.10  # peak RSS of the large shard within 10 % of the small one's counts as "independent"
HTML_TYPES = ("text/html", "application/xhtml+xml")


class Clock:
    """Wall-clock and CPU time (this process, all threads) of one measured operation."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> dict[str, float]:
        return {"seconds": time.perf_counter() - self.wall, "cpu_seconds": time.process_time() - self.cpu}


# -- the measured operations --------------------------------------------------------------------------------------
def gzip_floor(path: Path) -> dict[str, Any]:
    n = 0
    clock = Clock()
    with gzip.open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            n += len(chunk)
    return {**clock.stop(), "bytes": n}


def isal_floor(path: Path) -> dict[str, Any]:
    from isal import igzip

    n = 0
    clock = Clock()
    with igzip.open(path, "rb") as fh:  # type: ignore[no-untyped-call]
        while chunk := fh.read(CHUNK):
            n += len(chunk)
    return {**clock.stop(), "bytes": n}


def run_scan(path: Path, workdir: Path) -> dict[str, Any]:
    from scanner.config import ScanConfig
    from scanner.pipeline import scan

    out = Path(tempfile.mkdtemp(prefix="scan-out-", dir=workdir))
    try:
        clock = Clock()
        config = ScanConfig.build(
            inputs=[str(path)], out=str(out), classify={"enabled": False}, dedup={"enabled": False}
        )  # reading only: no classification, no MinHash signing
        result = scan(config)
        times = clock.stop()
        docs_bytes = sum(p.stat().st_size for p in (out / "docs").glob("*.parquet"))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    (stats,) = result.files
    if stats.status != "ok":
        raise RuntimeError(f"scan of {path} failed: {stats.status} {stats.message}")
    return {
        **times,
        "records_total": stats.records_total,
        "docs": stats.records_read,
        "skipped_by_reason": dict(stats.skipped_by_reason),
        "chars": stats.chars,
        "passages": stats.passages,
        "docs_parquet_bytes": docs_bytes,
    }


def resiliparse_alone(path: Path) -> dict[str, Any]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    from resiliparse.parse.html import HTMLTree

    docs = chars = responses = 0
    clock = Clock()
    with path.open("rb") as fh:
        for record in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True):
            responses += 1
            if record.http_content_type not in HTML_TYPES:
                continue
            payload = record.reader.read()
            html = bytes_to_str(payload, detect_encoding(payload))  # type: ignore[arg-type]
            text = extract_plain_text(HTMLTree.parse(html), preserve_formatting=True, main_content=True)
            docs += 1
            chars += len(text)
    return {**clock.stop(), "responses": responses, "docs": docs, "chars": chars}


# -- peak RSS in a child process ----------------------------------------------------------------------------------
# The peak is read from the child's own /proc/self/status (VmHWM: the high-water mark of its address space since
# exec). getrusage's ru_maxrss (RUSAGE_SELF in the child, RUSAGE_CHILDREN or wait4 in the parent) is NOT used as
# the figure: Linux carries the pre-exec high-water mark over exec, so a child forked from a large parent (this
# benchmark, after building shards) reports the parent's RSS. GNU time, a small parent, is used as a cross-check.
def proc_status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_scan(shard: str, workdir: str) -> None:
    """Entry point of the RSS child: one scan, its memory figures as JSON on stdout."""
    import scanner.pipeline  # noqa: F401  (everything a scan imports, before it starts)
    from scanner.provenance import _psl

    _psl()  # the public-suffix list is parsed once per process, on the first URL
    before = {"rss_before_scan_mib": proc_status_mib("VmRSS"), "peak_before_scan_mib": proc_status_mib("VmHWM")}
    result = run_scan(Path(shard), Path(workdir))
    print(
        json.dumps(
            {
                "seconds": result["seconds"],
                "docs": result["docs"],
                **before,
                "rss_after_scan_mib": proc_status_mib("VmRSS"),
                "peak_rss_mib": proc_status_mib("VmHWM"),
            }
        )
    )


def peak_rss(path: Path, workdir: Path) -> dict[str, Any]:
    """Scan ``path`` in a fresh interpreter; its peak RSS (VmHWM), cross-checked with GNU time when present."""
    cmd = [sys.executable, __file__, "--_child-scan", str(path), str(workdir)]
    gnu_time = "/usr/bin/time" if Path("/usr/bin/time").exists() else None
    time_out = workdir / "gnu-time.txt"
    if gnu_time:
        cmd = [gnu_time, "-f", "%M", "-o", str(time_out), *cmd]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"RSS child failed on {path}: {proc.stderr.decode(errors='replace')[-2000:]}")
    child: dict[str, Any] = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    if gnu_time:
        child["gnu_time_max_rss_mib"] = int(time_out.read_text().split()[-1]) / 1024
    return child


# -- reporting ------------------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for dist in ("tropescan", "FastWARC", "Resiliparse", "isal", "pyarrow", "publicsuffixlist"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    import zlib

    versions["zlib"] = zlib.ZLIB_RUNTIME_VERSION
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def median_of(runs: list[dict[str, Any]]) -> float:
    return float(statistics.median(r["seconds"] for r in runs))


def min_of(runs: list[dict[str, Any]]) -> float:
    return float(min(r["seconds"] for r in runs))


def paired(runs: dict[str, list[dict[str, Any]]], other: str) -> float:
    """Median over repetitions of t_other / t_scan, each pair timed back to back (robust to drifting load)."""
    return float(statistics.median(o["seconds"] / s["seconds"] for o, s in zip(runs[other], runs["scan"], strict=True)))


def cpu_ratio(runs: dict[str, list[dict[str, Any]]], other: str) -> float:
    """The same ratio on median CPU time (less sensitive to other processes taking the core)."""
    return float(
        statistics.median(r["cpu_seconds"] for r in runs[other])
        / statistics.median(r["cpu_seconds"] for r in runs["scan"])
    )


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| "
        + " | ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        + " |"
        for r in rows
    ]
    return "\n".join([line, sep, *body])


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def repeat(name: str, fn: Callable[[], dict[str, Any]], runs: dict[str, list[dict[str, Any]]]) -> None:
    result = fn()
    runs.setdefault(name, []).append(result)
    print(f"    {name:<18} {result['seconds']:8.2f} s", file=sys.stderr, flush=True)


def bench_shard(kind: str, path: Path, info: dict[str, Any], n: int, workdir: Path) -> dict[str, Any]:
    print(f"== {kind.upper()} shard {path.name}", file=sys.stderr, flush=True)
    runs: dict[str, list[dict[str, Any]]] = {}
    gzip_floor(path)  # warm the page cache; not counted
    for i in range(n):
        print(f"  repetition {i + 1}/{n}", file=sys.stderr, flush=True)
        repeat("gzip floor", lambda: gzip_floor(path), runs)
        repeat("isal igzip", lambda: isal_floor(path), runs)
        repeat("scan", lambda: run_scan(path, workdir), runs)
        if kind == "warc":
            repeat("resiliparse alone", lambda: resiliparse_alone(path), runs)
    raw = runs["gzip floor"][0]["bytes"]
    scan_run = runs["scan"][0]
    med = {name: median_of(r) for name, r in runs.items()}
    summary: dict[str, Any] = {
        "shard": str(path),
        "compressed_mb": info["compressed_bytes"] / MB,
        "decompressed_mb": raw / MB,
        "records": scan_run["records_total"],
        "docs": scan_run["docs"],
        "repetitions": n,
        "median_seconds": med,
        "min_seconds": {name: min_of(r) for name, r in runs.items()},
        "median_cpu_seconds": {name: statistics.median(x["cpu_seconds"] for x in r) for name, r in runs.items()},
        "mb_per_s": {name: raw / MB / s for name, s in med.items() if name != "resiliparse alone"},
        "docs_per_s": {"scan": scan_run["docs"] / med["scan"]},
        "scan_vs_gzip_floor": med["gzip floor"] / med["scan"],
        "scan_vs_gzip_floor_paired": paired(runs, "gzip floor"),
        "scan_vs_gzip_floor_cpu": cpu_ratio(runs, "gzip floor"),
        "scan_vs_isal": med["isal igzip"] / med["scan"],
        "runs": runs,
    }
    if kind == "warc":
        res = runs["resiliparse alone"][0]
        summary["docs_per_s"]["resiliparse alone"] = res["docs"] / med["resiliparse alone"]
        summary["mb_per_s"]["resiliparse alone"] = raw / MB / med["resiliparse alone"]
        summary["resiliparse_docs"] = res["docs"]
        summary["scan_vs_resiliparse"] = med["resiliparse alone"] / med["scan"]
        summary["scan_vs_resiliparse_paired"] = paired(runs, "resiliparse alone")
        summary["scan_vs_resiliparse_cpu"] = cpu_ratio(runs, "resiliparse alone")
        summary["target"] = {
            "name": f"scan >= {WARC_TARGET}x resiliparse alone",
            "value": summary["scan_vs_resiliparse"],
            "met": summary["scan_vs_resiliparse"] >= WARC_TARGET,
        }
    else:
        summary["target"] = {
            "name": f"scan >= {WET_TARGET}x gzip floor",
            "value": summary["scan_vs_gzip_floor"],
            "met": summary["scan_vs_gzip_floor"] >= WET_TARGET,
        }
    return summary


def print_shard(kind: str, s: dict[str, Any]) -> None:
    print(
        f"\n{kind.upper()} shard: {s['compressed_mb']:.1f} MB compressed, {s['decompressed_mb']:.1f} MB "
        f"decompressed, {s['records']} records, {s['docs']} documents; median of {s['repetitions']}"
    )
    med, low, cpu = s["median_seconds"], s["min_seconds"], s["median_cpu_seconds"]
    rows = []
    for name in ("gzip floor", "isal igzip", "scan", "resiliparse alone"):
        if name not in med:
            continue
        docs = s["docs_per_s"].get(name)
        rows.append(
            [
                name,
                f"{med[name]:.2f}",
                f"{low[name]:.2f}",
                f"{cpu[name]:.2f}",
                f"{s['mb_per_s'][name]:.1f}",
                f"{docs:,.0f}" if docs else "-",
                f"{med[name] / med['scan']:.2f}",
            ]
        )
    print(
        table(
            rows, ["measure", "median s", "min s", "median CPU s", "MB/s (decompressed)", "docs/s", "scan speed / this"]
        )
    )
    key = "scan_vs_resiliparse" if kind == "warc" else "scan_vs_gzip_floor"
    print(
        f"target: {s['target']['name']}: {s['target']['value']:.2f}x on median wall time "
        f"(paired per repetition: {s[key + '_paired']:.2f}x, on CPU time: {s[key + '_cpu']:.2f}x), "
        f"{verdict(s['target']['met'])}"
    )


def profile_scan(path: Path, workdir: Path, top: int, dump: Path | None) -> str:
    from scanner.config import ScanConfig
    from scanner.pipeline import scan

    out = Path(tempfile.mkdtemp(prefix="scan-prof-", dir=workdir))
    try:
        config = ScanConfig.build(
            inputs=[str(path)], out=str(out), classify={"enabled": False}, dedup={"enabled": False}
        )
        profiler = cProfile.Profile()
        profiler.enable()
        scan(config)
        profiler.disable()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    if dump is not None:
        profiler.dump_stats(dump)
    buf = io.StringIO()
    stats = pstats.Stats(profiler, stream=buf).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wet-mb", type=float, default=200, help="WET shard size, MB compressed (default 200)")
    parser.add_argument("--warc-mb", type=float, default=100, help="WARC shard size, MB compressed (default 100)")
    parser.add_argument(
        "--rss-mb", default="50,200", help="WET shard sizes for the peak-RSS check, comma-separated (default 50,200)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per measure (median; default 3)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 10 MB WET, 5 MB WARC, RSS on 5 and 10 MB (overrides the sizes)"
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where shards are built and kept")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--corpora", type=Path, default=CORPORA)
    parser.add_argument(
        "--skip", action="append", default=[], choices=("wet", "warc", "rss"), help="leave out a benchmark (repeatable)"
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also cProfile one scan of each shard and print its top N entries",
    )
    parser.add_argument("--profile-dump", type=Path, help="write the WET scan's pstats here (with --profile)")
    parser.add_argument("--json", type=Path, help="write every figure (all repetitions) as JSON here")
    parser.add_argument("--_child-scan", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._child_scan:
        child_scan(*args._child_scan)
        return 0
    if args.quick:
        args.wet_mb, args.warc_mb, args.rss_mb = 10, 5, "5,10"
    rss_sizes = [float(x) for x in args.rss_mb.split(",") if x.strip()]

    report: dict[str, Any] = {
        "machine": machine(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "seed": args.seed,
    }
    m = report["machine"]
    print(
        f"{m['date']} | {m['cpu']} | {m['cores']} cores | Python {m['python']} | "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    )
    workdir = args.cache / "work"
    workdir.mkdir(parents=True, exist_ok=True)

    shards: dict[str, tuple[Path, dict[str, Any]]] = {}
    if "wet" not in args.skip:
        shards["wet"] = build_shard("wet", args.wet_mb, cache=args.cache, seed=args.seed, corpora=args.corpora)
    if "warc" not in args.skip:
        shards["warc"] = build_shard("warc", args.warc_mb, cache=args.cache, seed=args.seed, corpora=args.corpora)
    rss_shards = []
    if "rss" not in args.skip:
        rss_shards = [
            build_shard("wet", mb, cache=args.cache, seed=args.seed, corpora=args.corpora) for mb in rss_sizes
        ]

    for kind, (path, info) in shards.items():
        report[kind] = bench_shard(kind, path, info, args.repeat, workdir)
    for kind in shards:
        print_shard(kind, report[kind])

    if rss_shards:
        print("== peak RSS (one scan per fresh subprocess)", file=sys.stderr, flush=True)
        tiny = args.corpora / "commoncrawl/cc/whirlwind__CC-MAIN-2024-22.warc.wet.gz"
        rows = []
        rss = []
        for label, path, info in [
            ("real CC WET, 2 records", tiny, {"compressed_bytes": tiny.stat().st_size, "decompressed_bytes": None})
        ] + [(f"WET {mb:g} MB", p, i) for mb, (p, i) in zip(rss_sizes, rss_shards, strict=True)]:
            r = peak_rss(path, workdir)
            r.update(
                label=label,
                compressed_mb=info["compressed_bytes"] / MB,
                decompressed_mb=(info["decompressed_bytes"] or 0) / MB,
            )
            print(f"    {label:<22} {r['peak_rss_mib']:8.1f} MiB", file=sys.stderr, flush=True)
            rss.append(r)
            rows.append(
                [
                    label,
                    f"{r['compressed_mb']:.1f}",
                    f"{r['decompressed_mb']:.1f}",
                    f"{r['docs']:,}",
                    f"{r['seconds']:.1f}",
                    f"{r['peak_before_scan_mib']:.1f}",
                    f"{r['rss_after_scan_mib']:.1f}",
                    f"{r['peak_rss_mib']:.1f}",
                    f"{r['gnu_time_max_rss_mib']:.1f}" if "gnu_time_max_rss_mib" in r else "-",
                ]
            )
        sized = rss[1:]
        independent = (
            len(sized) < 2 or max(r["peak_rss_mib"] for r in sized) <= (1 + RSS_TOLERANCE) * sized[0]["peak_rss_mib"]
        )
        report["rss"] = {"runs": rss, "independent": independent, "tolerance": RSS_TOLERANCE}
        print("\nPeak RSS of the scan (fresh interpreter per shard; VmHWM of the child, GNU time as a cross-check)")
        print(
            table(
                rows,
                [
                    "input",
                    "MB compressed",
                    "MB decompressed",
                    "docs",
                    "scan s",
                    "peak before scan MiB",
                    "RSS after scan MiB",
                    "peak RSS MiB",
                    "GNU time max RSS MiB",
                ],
            )
        )
        print(
            f"target: peak RSS independent of shard size (largest within {RSS_TOLERANCE:.0%} of smallest): "
            f"{verdict(independent)}"
        )

    if args.profile:
        report["profile"] = {}
        for kind, (path, _) in shards.items():
            print(f"== profiling one {kind.upper()} scan", file=sys.stderr, flush=True)
            dump = args.profile_dump if kind == "wet" else None
            text = profile_scan(path, workdir, args.profile, dump)
            report["profile"][kind] = text
            print(
                f"\ncProfile of one scan of the {kind.upper()} shard (profiler overhead inflates Python-level "
                f"costs)\n{text}"
            )

    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
