"""How ``tropescan scan`` scales: peak memory of the whole process tree against the shard size, throughput with 1
and 2 workers, and what the Ray engine costs over the local one.

Every scan runs as ``python -m scanner scan INPUT --out DIR -q ...`` in a fresh process, on WET shards built by
:mod:`build_shards` from the real pages in ``../shared/corpora`` (cached in ``.bench-cache/``).

1. **Peak RSS vs shard size** (``rss``): WET shards of 50, 200 and 1000 MB compressed (``--sizes``), scanned with
   each configuration of ``--configs`` (``no-classify``: read, segment, MinHash signatures, near-duplicate
   clustering and report; ``rules``: the classifier's rule stage too, ``--stage rules``; ``cascade``: the full
   cascade, ``--stage cascade``). Classifying configurations run only on shards up to ``--classify-max-mb``
   (default 200): the rule stage runs at ~0.5 MB/s compressed here, the cascade at ~0.14 MB/s. The memory figure
   is the process *tree*'s: a sampler thread walks the scan's descendants (``/proc/<pid>/task/*/children``) every
   ``--interval`` seconds and sums their ``VmRSS``; each Python process of the tree also writes its own ``VmHWM``
   as it exits (a ``sitecustomize`` hook put on the scan's ``PYTHONPATH``: ``atexit`` and ``os._exit``). The sum
   of the per-process high-water marks (exit ``VmHWM``, else the largest sample) bounds the tree's peak from above
   without missing a spike between samples; it is the figure the targets are checked on. ``ru_maxrss`` is not
   used: Linux carries the pre-``exec`` high-water mark of the forking process (this benchmark) into the child
   (see ``read_throughput.py``). Targets: peak flat across sizes (largest within 10 % of the smallest, per
   configuration) and under 2 GB (2 * 10^9 bytes). Caveats: summed ``VmRSS`` and ``VmHWM`` count pages shared
   between processes (copy-on-write after ``fork``, Ray's shared-memory object store) once per process, so they
   overstate a multi-process tree (PSS is sampled too, for that); a process that leaves the tree (double fork,
   re-parented to init) is not counted; CPU time is that of the scan and the descendants it reaped.
2. **Workers** (``workers``): a directory of ``--set-shards`` WET shards of ``--set-mb`` MB (default 4 x 25 MB,
   built with seeds ``seed+1 ... seed+N``) scanned with ``--workers 1`` and ``--workers 2``: wall time, MB/s,
   documents/s, speed-up. Workers parallelise over input files, hence the directory.
3. **Ray** (``ray``): the same directory with ``--engine ray --workers 2`` against ``--engine local --workers 2``;
   skipped, saying so, when ``import ray`` fails.

Parts 2 and 3 need the scanner's ``--workers`` / ``--engine`` options; when ``scan --help`` does not list one (or
a scan rejects it as a usage error), the part is reported as not run. Each run of parts 2 and 3 records its
output directory's files (path, size, sha256) in the JSON, so the outputs of the engines and worker counts can be
compared by hand (``manifest.json`` and the reports carry timings and differ anyway). Repetitions of parts 2 and 3
are interleaved (1 worker, 2 workers, local, ray, then again); medians are reported. The load average is recorded
before every scan: the figures are wall-clock times on a machine that may be shared.

Usage::

    python bench/scaling.py --quick                                   # smoke run: 5/10/20 MB, 4 x 5 MB set
    python bench/scaling.py --skip workers,ray --json scaling.json    # part 1 only
    python bench/scaling.py --json scaling.json                       # everything
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_shards import CORPORA, DEFAULT_CACHE, DEFAULT_SEED, build_shard
from read_throughput import machine, table, verdict

REPO = Path(__file__).resolve().parent.parent
MB = 1_000_000
MIB = 1 << 20
RSS_LIMIT_MIB = 2 * 10**9 / MIB  # "under 2 GB"
RSS_TOLERANCE = 0.10  # "flat": the largest shard's peak within 10 % of the smallest one's
CONFIGS = {"no-classify": ["--no-classify"], "rules": ["--stage", "rules"], "cascade": ["--stage", "cascade"]}
PARTS = ("rss", "workers", "ray")
HWM_ENV = "TROPESCAN_BENCH_HWM_DIR"

# Put on the scan's PYTHONPATH as sitecustomize.py: every Python process of the tree writes its own VmHWM (and
# VmRSS, VmPeak) to $TROPESCAN_BENCH_HWM_DIR/<pid>.json when it exits, normally (atexit) or by os._exit (forked
# multiprocessing children). Processes killed by a signal write nothing; the sampler's figures cover them.
HOOK = """\
import atexit, json, os, sys

_DIR = os.environ.get("TROPESCAN_BENCH_HWM_DIR")


def _tropescan_bench_hwm():
    try:
        fields = {}
        with open("/proc/self/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("Name", "VmHWM", "VmRSS", "VmPeak"):
                    fields[key] = value.strip() if key == "Name" else int(value.split()[0])
        with open(os.path.join(_DIR, "%d.json" % os.getpid()), "w") as out:
            json.dump({"pid": os.getpid(), "ppid": os.getppid(), "argv": sys.argv[:4], **fields}, out)
    except Exception:
        pass


if _DIR:
    atexit.register(_tropescan_bench_hwm)
    _os_exit = os._exit

    def _exit(code):
        _tropescan_bench_hwm()
        _os_exit(code)

    os._exit = _exit

# chain to a sitecustomize further down the path, if there is one
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
del sys.modules["sitecustomize"]
try:
    import sitecustomize  # noqa: F401
except ImportError:
    pass
"""


# -- the process tree ----------------------------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                kids.extend(int(x) for x in (task / "children").read_text().split())
            except OSError:
                continue
    except OSError:
        pass
    return kids


def tree(root: int) -> list[int]:
    """``root`` and all its live descendants."""
    seen: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        todo.extend(_children(pid))
    return seen


def _status(pid: int) -> dict[str, Any] | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    out: dict[str, Any] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "Name":
            out["name"] = value.strip()
        elif key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])  # kB
    return out if "VmRSS" in out else None  # a zombie has no memory lines


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()[:200]
    except OSError:
        return ""


class TreeSampler(threading.Thread):
    """Samples the memory of a process and its descendants every ``interval`` seconds until stopped."""

    def __init__(self, root: int, interval: float, pss: bool) -> None:
        super().__init__(daemon=True)
        self.root, self.interval, self.pss = root, interval, pss
        self.halt = threading.Event()
        self.samples = 0
        self.peak_rss_kb = 0  # max over samples of the sum of VmRSS over the tree
        self.peak_pss_kb = 0  # the same with PSS (shared pages counted once, split between their sharers)
        self.max_processes = 0
        self.procs: dict[int, dict[str, Any]] = {}
        self.started = time.perf_counter()
        self.peak_at_s = 0.0  # seconds after the start when the sampled tree peak was seen
        self.series: list[tuple[float, int]] = []  # (seconds, tree VmRSS kB), where to look for the phase

    def sample(self) -> None:
        total_rss = total_pss = n = 0
        for pid in tree(self.root):
            st = _status(pid)
            if st is None:
                continue
            n += 1
            total_rss += st["VmRSS"]
            if self.pss:
                total_pss += _pss(pid)
            proc = self.procs.get(pid)
            if proc is None:
                proc = self.procs[pid] = {"pid": pid, "name": st.get("name"), "cmd": _cmdline(pid), "max_rss_kb": 0}
            proc["max_rss_kb"] = max(proc["max_rss_kb"], st["VmRSS"])
            proc["last_hwm_kb"] = st.get("VmHWM", 0)
        self.samples += 1
        now = time.perf_counter() - self.started
        if total_rss > self.peak_rss_kb:
            self.peak_rss_kb, self.peak_at_s = total_rss, now
        if not self.series or abs(total_rss - self.series[-1][1]) > 4096 or now - self.series[-1][0] >= 5:
            self.series.append((round(now, 2), total_rss))  # only on a 4 MB change or every 5 s
        self.peak_pss_kb = max(self.peak_pss_kb, total_pss)
        self.max_processes = max(self.max_processes, n)

    def run(self) -> None:
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(self.interval)

    def stop(self) -> None:
        self.halt.set()
        self.join()


# -- one scan in a fresh process -----------------------------------------------------------------------------------
def scanner_help(env: dict[str, str]) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", "--help"], capture_output=True, env=env, cwd=REPO, check=False
    )
    return proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")


def scan_env(hook_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    path = [str(hook_dir), str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(path)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def file_list(out: Path) -> list[dict[str, Any]]:
    files = []
    for p in sorted(out.rglob("*")):
        if p.is_file():
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
            files.append({"path": str(p.relative_to(out)), "bytes": p.stat().st_size, "sha256": digest})
    return files


def run_scan(
    inputs: list[Path],
    extra: list[str],
    *,
    env: dict[str, str],
    workdir: Path,
    interval: float,
    pss: bool,
    timeout: float,
    keep: bool,
    record_files: bool,
) -> dict[str, Any]:
    """One ``python -m scanner scan`` in a fresh process: wall and CPU time, counts, and the tree's memory."""
    out = Path(tempfile.mkdtemp(prefix="scaling-out-", dir=workdir)) / "out"
    hwm_dir = Path(tempfile.mkdtemp(prefix="scaling-hwm-", dir=workdir))
    cmd = [sys.executable, "-m", "scanner", "scan", *map(str, inputs), "--out", str(out), "-q", *extra]
    err_path = hwm_dir.parent / (hwm_dir.name + ".stderr")
    load_before = os.getloadavg()
    with err_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**env, HWM_ENV: str(hwm_dir)},
            cwd=REPO,
            start_new_session=True,
        )
        sampler = TreeSampler(proc.pid, interval, pss)
        sampler.start()
        killer = threading.Timer(timeout, lambda: os.killpg(proc.pid, 9))
        killer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        killer.cancel()
        sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
    stderr_tail = err_path.read_bytes()[-3000:].decode(errors="replace")
    exits = []
    for p in sorted(hwm_dir.glob("*.json")):
        try:
            exits.append(json.loads(p.read_text()))
        except (OSError, ValueError):
            continue
    # per process: its own high-water mark at exit when it wrote one, else the largest VmHWM / VmRSS sampled
    hwm: dict[int, int] = {pid: max(p.get("last_hwm_kb", 0), p["max_rss_kb"]) for pid, p in sampler.procs.items()}
    for e in exits:
        hwm[e["pid"]] = max(hwm.get(e["pid"], 0), e.get("VmHWM", 0))
    main_exit = next((e for e in exits if e["pid"] == proc.pid), None)
    result: dict[str, Any] = {
        "command": " ".join(cmd),
        "returncode": proc.returncode,
        "timed_out": proc.returncode == -9 and wall >= timeout,
        "seconds": wall,
        "cpu_seconds_reaped": usage.ru_utime + usage.ru_stime,  # the scan and the descendants it waited for
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "samples": sampler.samples,
        "interval_s": interval,
        "max_processes": sampler.max_processes,
        "processes_seen": len(set(hwm)),
        "tree_peak_rss_mib": sampler.peak_rss_kb / 1024,  # sampled: max over samples of the sum of VmRSS
        "tree_peak_at_s": sampler.peak_at_s,
        "tree_rss_series_kb": sampler.series,
        "tree_peak_pss_mib": sampler.peak_pss_kb / 1024 if pss else None,
        "main_hwm_mib": (main_exit or {}).get("VmHWM", hwm.get(proc.pid, 0)) / 1024,
        "main_hwm_from_exit": main_exit is not None,
        "sum_hwm_mib": sum(hwm.values()) / 1024,  # upper bound of the tree's peak
        "processes": [
            {
                **{k: v for k, v in p.items() if k != "last_hwm_kb"},
                "hwm_kb": hwm[p["pid"]],
                "hwm_from_exit": any(e["pid"] == p["pid"] for e in exits),
            }
            for p in sampler.procs.values()
        ],
        "exit_records_unsampled": [e for e in exits if e["pid"] not in sampler.procs],
    }
    if proc.returncode != 0:
        result["stderr_tail"] = stderr_tail
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        counts = manifest.get("counts", {})
        result.update(
            records_total=counts.get("records_total"),
            docs=counts.get("records_read"),
            files_by_status=counts.get("files_by_status"),
            scan_timing=manifest.get("timing"),
            dedup=manifest.get("dedup"),
        )
    if record_files and out.exists():
        result["output_files"] = file_list(out)
    if keep:
        result["output_dir"] = str(out)
    else:
        shutil.rmtree(out.parent, ignore_errors=True)
    shutil.rmtree(hwm_dir, ignore_errors=True)
    err_path.unlink(missing_ok=True)
    return result


def usage_error(r: dict[str, Any]) -> bool:
    tail = r.get("stderr_tail", "")
    return r["returncode"] == 2 and ("No such option" in tail or "no such option" in tail or "Usage:" in tail)


def progress(label: str, r: dict[str, Any]) -> None:
    state = "ok" if r["returncode"] == 0 else f"rc={r['returncode']}"
    print(
        f"    {label:<34} {r['seconds']:8.1f} s  tree peak {r['tree_peak_rss_mib']:7.1f} MiB  "
        f"(at {r['tree_peak_at_s']:.0f} s)  sum HWM {r['sum_hwm_mib']:7.1f} MiB  procs {r['max_processes']}  "
        f"load {r['loadavg_before'][0]:.2f}  {state}",
        file=sys.stderr,
        flush=True,
    )


def med(runs: Iterable[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


# -- part 1: peak RSS vs shard size ------------------------------------------------------------------------------
def part_rss(args: argparse.Namespace, sizes: list[float], ctx: dict[str, Any]) -> dict[str, Any]:
    shards = {mb: build_shard("wet", mb, cache=args.cache, seed=args.seed, corpora=args.corpora) for mb in sizes}
    runs: list[dict[str, Any]] = []
    for config in args.configs:
        for mb in sizes:
            if config != "no-classify" and mb > args.classify_max_mb:
                print(
                    f"    {config} on {mb:g} MB: left out (> --classify-max-mb {args.classify_max_mb:g})",
                    file=sys.stderr,
                )
                continue
            path, info = shards[mb]
            reps = [
                run_scan([path], CONFIGS[config], **ctx, record_files=False) for _ in range(args.repeat)
            ]  # sequential: never two scans at once
            for r in reps:
                progress(f"{config} WET {mb:g} MB", r)
            ok = [r for r in reps if r["returncode"] == 0]
            entry: dict[str, Any] = {
                "config": config,
                "mb": mb,
                "shard": str(path),
                "compressed_mb": info["compressed_bytes"] / MB,
                "decompressed_mb": info["decompressed_bytes"] / MB,
                "records": info["records"],
                "ok": len(ok) == len(reps),
                "runs": reps,
            }
            if ok:
                secs = med(ok, "seconds")
                entry.update(
                    median_seconds=secs,
                    median_cpu_seconds=med(ok, "cpu_seconds_reaped"),
                    docs=ok[0].get("docs"),
                    docs_per_s=(ok[0].get("docs") or 0) / secs,
                    records_per_s=(ok[0].get("records_total") or 0) / secs,
                    mb_per_s_compressed=entry["compressed_mb"] / secs,
                    mb_per_s_decompressed=entry["decompressed_mb"] / secs,
                    tree_peak_rss_mib=max(r["tree_peak_rss_mib"] for r in ok),
                    tree_peak_pss_mib=max((r["tree_peak_pss_mib"] or 0) for r in ok),
                    main_hwm_mib=max(r["main_hwm_mib"] for r in ok),
                    sum_hwm_mib=max(r["sum_hwm_mib"] for r in ok),
                    max_processes=max(r["max_processes"] for r in ok),
                    loadavg_before=ok[0]["loadavg_before"][0],
                )
            runs.append(entry)
    targets = {}
    for config in args.configs:
        rows = [e for e in runs if e["config"] == config and e["ok"]]
        if not rows:
            continue
        peaks = [e["sum_hwm_mib"] for e in rows]
        targets[config] = {
            "sizes_mb": [e["mb"] for e in rows],
            "peak_mib": peaks,
            "flat": None if len(peaks) < 2 else max(peaks) <= (1 + RSS_TOLERANCE) * peaks[0],
            "growth": max(peaks) / peaks[0] - 1,
            "under_2gb": max(peaks) < RSS_LIMIT_MIB,
        }
    return {"runs": runs, "targets": targets, "tolerance": RSS_TOLERANCE, "limit_mib": RSS_LIMIT_MIB}


def print_rss(res: dict[str, Any]) -> None:
    print(
        "\nPeak memory of the scan's process tree vs shard size (one fresh process per scan; "
        "sum of per-process VmHWM = upper bound, sampled sum of VmRSS = what was seen at once)"
    )
    rows = []
    for e in res["runs"]:
        if not e["ok"]:
            r = e["runs"][-1]
            rows.append(
                [e["config"], f"{e['compressed_mb']:.0f}", "-", "-", f"FAILED rc={r['returncode']}"] + ["-"] * 9
            )
            continue
        rows.append(
            [
                e["config"],
                f"{e['compressed_mb']:.0f}",
                f"{e['decompressed_mb']:.0f}",
                f"{e['docs']:,}",
                f"{e['median_seconds']:.1f}",
                f"{e['median_cpu_seconds']:.1f}",
                f"{e['docs_per_s']:,.0f}",
                f"{e['mb_per_s_compressed']:.2f}",
                str(e["max_processes"]),
                f"{e['tree_peak_rss_mib']:.0f}",
                f"{e['tree_peak_pss_mib']:.0f}",
                f"{e['main_hwm_mib']:.0f}",
                f"{e['sum_hwm_mib']:.0f}",
                f"{e['loadavg_before']:.2f}",
            ]
        )
    header = [
        "config",
        "MB compr.",
        "MB decompr.",
        "docs",
        "wall s",
        "CPU s",
        "docs/s",
        "MB/s compr.",
        "procs",
        "tree peak RSS MiB",
        "tree peak PSS MiB",
        "main VmHWM MiB",
        "sum VmHWM MiB",
        "load 1 min",
    ]
    print(table(rows, header))
    for config, t in res["targets"].items():
        sizes = ", ".join(f"{mb:g} MB: {p:.0f} MiB" for mb, p in zip(t["sizes_mb"], t["peak_mib"], strict=True))
        print(
            f"target ({config}): peak flat across sizes (largest within {res['tolerance']:.0%} of smallest; {sizes}; "
            f"{t['growth']:+.0%}): {'n/a (one size)' if t['flat'] is None else verdict(t['flat'])}; "
            f"under 2 GB ({res['limit_mib']:.0f} MiB): "
            f"{verdict(t['under_2gb'])}"
        )


# -- parts 2 and 3: workers and engines over a directory of shards -----------------------------------------------
def build_set(args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    """A directory holding only ``--set-shards`` WET shards of ``--set-mb`` MB, seeds seed+1 ... seed+N."""
    n, mb = args.set_shards, args.set_mb
    folder = args.cache / f"scaling-set-{n}x{mb:g}MB-seed{args.seed}"
    folder.mkdir(parents=True, exist_ok=True)
    infos = []
    for i in range(1, n + 1):
        path, info = build_shard("wet", mb, cache=args.cache, seed=args.seed + i, corpora=args.corpora)
        dest = folder / path.name
        if not dest.exists() or dest.stat().st_size != path.stat().st_size:
            dest.unlink(missing_ok=True)
            try:
                os.link(path, dest)
            except OSError:
                shutil.copyfile(path, dest)
        infos.append(info)
    for stray in folder.iterdir():  # only the shards: nothing else for the scan to pick up
        if stray.name not in {Path(i["path"]).name for i in infos}:
            stray.unlink()
    return folder, {
        "dir": str(folder),
        "shards": n,
        "compressed_mb": sum(i["compressed_bytes"] for i in infos) / MB,
        "decompressed_mb": sum(i["decompressed_bytes"] for i in infos) / MB,
        "records": sum(i["records"] for i in infos),
    }


def ray_importable(env: dict[str, str]) -> tuple[bool, str]:
    try:
        proc = subprocess.run(
            [sys.executable, "-c", "import ray; print(ray.__version__)"],
            capture_output=True,
            env=env,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, "import ray timed out"
    if proc.returncode != 0:
        return False, proc.stderr.decode(errors="replace").strip().splitlines()[-1:][0] if proc.stderr else "failed"
    return True, proc.stdout.decode().strip()


def same_outputs(a: dict[str, Any], b: dict[str, Any]) -> str:
    """Information only (not a verdict): do two runs' output files agree in name, size and content?"""
    fa = {f["path"]: f for f in a.get("output_files", [])}
    fb = {f["path"]: f for f in b.get("output_files", [])}
    if set(fa) != set(fb):
        return f"different file lists ({len(fa)} vs {len(fb)} files; only in one: {sorted(set(fa) ^ set(fb))[:6]})"
    diff_size = [p for p in fa if fa[p]["bytes"] != fb[p]["bytes"]]
    diff_hash = [p for p in fa if fa[p]["sha256"] != fb[p]["sha256"]]
    return (
        f"same {len(fa)} files; sizes differ: {diff_size or 'none'}; "
        f"contents differ: {diff_hash or 'none'} (run.json holds timings; manifest.json records --out, which differs "
        "between these runs)"
    )


def part_parallel(
    args: argparse.Namespace, ctx: dict[str, Any], help_text: str, parts: list[str]
) -> dict[str, dict[str, Any]]:
    res: dict[str, dict[str, Any]] = {}
    variants: dict[str, tuple[str, list[str]]] = {}  # label -> (part, extra options)
    if "workers" in parts:
        if "--workers" not in help_text:
            res["workers"] = {"status": "not run: this scanner's scan has no --workers option (scan --help)"}
        else:
            for w in args.workers:
                variants[f"--workers {w}"] = ("workers", ["--workers", str(w)])
    if "ray" in parts:
        ok, detail = ray_importable(ctx["env"])
        if "--engine" not in help_text or "--workers" not in help_text:
            res["ray"] = {"status": "not run: this scanner's scan has no --engine / --workers option (scan --help)"}
        elif not ok:
            res["ray"] = {"status": f"skipped: import ray failed ({detail})"}
        else:
            res["ray"] = {"ray_version": detail}
            for engine in ("local", "ray"):
                variants[f"--engine {engine} --workers 2"] = ("ray", ["--engine", engine, "--workers", "2"])
    if not variants:
        return res
    folder, info = build_set(args)
    config_extra = CONFIGS[args.set_config]
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in variants}
    rejected: dict[str, str] = {}
    for rep in range(args.set_repeat):
        print(f"  repetition {rep + 1}/{args.set_repeat} on {folder.name}", file=sys.stderr, flush=True)
        for label, (_, extra) in variants.items():
            if label in rejected:
                continue
            r = run_scan([folder], [*config_extra, *extra], **ctx, record_files=True)
            progress(label, r)
            if usage_error(r):
                rejected[label] = r.get("stderr_tail", "")[-500:]
            runs[label].append(r)
    for part in ("workers", "ray"):
        labels = [lb for lb, (p, _) in variants.items() if p == part]
        if not labels:
            continue
        entry = res.setdefault(part, {})
        entry.update(set=info, config=args.set_config, repetitions=args.set_repeat)
        bad = [lb for lb in labels if lb in rejected]
        if bad:
            lines = rejected[bad[0]].splitlines()
            why = next((ln.strip(" │") for ln in lines if "such option" in ln), lines[-1] if lines else "")
            entry["status"] = f"not run: the scanner rejected {', '.join(bad)} ({why})"
            entry["runs"] = {lb: runs[lb] for lb in labels}
            continue
        failed = [lb for lb in labels if any(r["returncode"] != 0 for r in runs[lb])]
        summary = {}
        for lb in labels:
            ok = [r for r in runs[lb] if r["returncode"] == 0]
            if not ok:
                continue
            secs = med(ok, "seconds")
            summary[lb] = {
                "median_seconds": secs,
                "min_seconds": min(r["seconds"] for r in ok),
                "mb_per_s_compressed": info["compressed_mb"] / secs,
                "mb_per_s_decompressed": info["decompressed_mb"] / secs,
                "docs": ok[0].get("docs"),
                "docs_per_s": (ok[0].get("docs") or 0) / secs,
                "cpu_seconds_reaped": med(ok, "cpu_seconds_reaped"),
                "sum_hwm_mib": max(r["sum_hwm_mib"] for r in ok),
                "tree_peak_rss_mib": max(r["tree_peak_rss_mib"] for r in ok),
                "max_processes": max(r["max_processes"] for r in ok),
                "loadavg_before": [r["loadavg_before"][0] for r in ok],
            }
        entry.update(
            status="failed: " + ", ".join(failed) if failed else "ok", summary=summary, runs=runs_of(runs, labels)
        )
        if len(labels) == 2 and all(lb in summary for lb in labels):
            a, b = labels
            entry["outputs_compared"] = same_outputs(runs[a][0], runs[b][0])
            if part == "workers":
                entry["speedup"] = summary[a]["median_seconds"] / summary[b]["median_seconds"]
                entry["speedup_paired"] = statistics.median(
                    x["seconds"] / y["seconds"] for x, y in zip(runs[a], runs[b], strict=True)
                )
            else:
                entry["ray_minus_local_seconds"] = summary[b]["median_seconds"] - summary[a]["median_seconds"]
                entry["ray_over_local"] = summary[b]["median_seconds"] / summary[a]["median_seconds"]
    return res


def runs_of(runs: dict[str, list[dict[str, Any]]], labels: list[str]) -> dict[str, list[dict[str, Any]]]:
    return {lb: runs[lb] for lb in labels}


def print_parallel(part: str, entry: dict[str, Any]) -> None:
    title = {"workers": "Throughput with 1 and 2 workers", "ray": "Ray engine vs local engine, 2 workers"}[part]
    if "summary" not in entry:
        print(f"\n{title}: {entry['status']}")
        return
    s = entry["set"]
    print(
        f"\n{title}: {s['shards']} WET shards, {s['compressed_mb']:.1f} MB compressed, {s['decompressed_mb']:.1f} MB "
        f"decompressed, {s['records']:,} records; {entry['config']}; median of {entry['repetitions']}"
    )
    rows = [
        [
            lb,
            f"{v['median_seconds']:.1f}",
            f"{v['min_seconds']:.1f}",
            f"{v['cpu_seconds_reaped']:.1f}",
            f"{v['mb_per_s_compressed']:.2f}",
            f"{v['mb_per_s_decompressed']:.1f}",
            f"{v['docs_per_s']:,.0f}",
            str(v["max_processes"]),
            f"{v['sum_hwm_mib']:.0f}",
            " ".join(f"{x:.2f}" for x in v["loadavg_before"]),
        ]
        for lb, v in entry["summary"].items()
    ]
    header = [
        "run",
        "median s",
        "min s",
        "CPU s (reaped)",
        "MB/s compr.",
        "MB/s decompr.",
        "docs/s",
        "procs",
        "sum VmHWM MiB",
        "load before",
    ]
    print(table(rows, header))
    if "speedup" in entry:
        print(
            f"speed-up, 2 workers over 1: {entry['speedup']:.2f}x "
            f"(paired per repetition: {entry['speedup_paired']:.2f}x)"
        )
    if "ray_minus_local_seconds" in entry:
        print(
            f"ray overhead: {entry['ray_minus_local_seconds']:+.1f} s "
            f"({entry['ray_over_local']:.2f}x the local engine's wall time)"
        )
    if entry["status"] != "ok":
        print(f"status: {entry['status']}")
    if "outputs_compared" in entry:
        print(f"outputs (information; first repetition): {entry['outputs_compared']}")


# -- main -------------------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="50,200,1000", help="WET shard sizes for part 1, MB compressed")
    parser.add_argument(
        "--configs",
        default="no-classify,rules",
        help=f"scan configurations for part 1, comma-separated, of {', '.join(CONFIGS)} (default no-classify,rules)",
    )
    parser.add_argument(
        "--classify-max-mb",
        type=float,
        default=200,
        help="run classifying configurations (rules, cascade) only on shards up to this size (default 200)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="scans per shard and configuration in part 1 (default 1)")
    parser.add_argument(
        "--set-shards", type=int, default=4, help="shards in the directory of parts 2 and 3 (default 4)"
    )
    parser.add_argument("--set-mb", type=float, default=25, help="size of each of those shards, MB (default 25)")
    parser.add_argument(
        "--set-config", choices=tuple(CONFIGS), default="no-classify", help="configuration of parts 2 and 3"
    )
    parser.add_argument("--workers", default="1,2", help="worker counts compared in part 2 (default 1,2)")
    parser.add_argument(
        "--set-repeat", type=int, default=3, help="interleaved repetitions of parts 2 and 3 (default 3)"
    )
    parser.add_argument("--skip", default="", help=f"parts to leave out, comma-separated, of {', '.join(PARTS)}")
    parser.add_argument("--interval", type=float, default=0.1, help="memory sampling interval, seconds (default 0.1)")
    parser.add_argument("--no-pss", action="store_true", help="do not sample PSS (smaps_rollup) as well")
    parser.add_argument("--scan-timeout", type=float, default=3600, help="kill a scan after this many seconds")
    parser.add_argument("--keep-outputs", action="store_true", help="keep every scan's output directory")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: sizes 5,10,20 (rules on 5 and 10), a set of 4 x 5 MB, one repetition",
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where shards are built and kept")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--corpora", type=Path, default=CORPORA)
    parser.add_argument("--json", type=Path, help="write every figure (every run) as JSON here")
    args = parser.parse_args(argv)

    if args.quick:
        args.sizes, args.classify_max_mb, args.set_mb, args.set_repeat = "5,10,20", 10, 5, 1
    sizes = sorted(float(x) for x in args.sizes.split(",") if x.strip())
    args.configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    args.workers = [int(x) for x in args.workers.split(",") if x.strip()]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    for name, bad in (("--configs", set(args.configs) - set(CONFIGS)), ("--skip", skip - set(PARTS))):
        if bad:
            parser.error(f"{name}: unknown {', '.join(sorted(bad))}")
    parts = [p for p in PARTS if p not in skip]
    if not args.corpora.is_dir() and not all(
        (args.cache / f"bench-wet-{mb:g}MB-seed{args.seed}.warc.wet.gz").exists() for mb in sizes
    ):
        parser.error(f"no corpora at {args.corpora}: pass --corpora DIR (the shards are built from it)")

    workdir = args.cache / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    hook_dir = Path(tempfile.mkdtemp(prefix="scaling-hook-", dir=workdir))
    (hook_dir / "sitecustomize.py").write_text(HOOK)
    env = scan_env(hook_dir)
    ctx = {
        "env": env,
        "workdir": workdir,
        "interval": args.interval,
        "pss": not args.no_pss,
        "timeout": args.scan_timeout,
        "keep": args.keep_outputs,
    }
    help_text = scanner_help(env)
    report: dict[str, Any] = {
        "machine": machine(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "seed": args.seed,
        "parts": parts,
        "scanner_options": {opt: opt in help_text for opt in ("--workers", "--engine")},
    }
    m = report["machine"]
    print(f"{m['date']} | {m['cpu']} | {m['cores']} cores | Python {m['python']} | load {os.getloadavg()[0]:.2f}")
    try:
        if "rss" in parts:
            print("== part 1: peak RSS of the process tree vs shard size", file=sys.stderr, flush=True)
            report["rss"] = part_rss(args, sizes, ctx)
            print_rss(report["rss"])
        if "workers" in parts or "ray" in parts:
            print("== parts 2/3: workers and engines over a directory of shards", file=sys.stderr, flush=True)
            report.update(part_parallel(args, ctx, help_text, parts))
            for part in ("workers", "ray"):
                if part in report:
                    print_parallel(part, report[part])
        for part in PARTS:
            if part not in parts:
                print(f"\n{part}: left out (--skip)")
    finally:
        shutil.rmtree(hook_dir, ignore_errors=True)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
            print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
