"""The end-of-scan summary for the terminal (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

MAX_FILE_ROWS = 40


def render_scan_summary(
    console: Console,
    manifest: dict[str, Any],
    out: str,
    report: dict[str, Any] | None = None,
    *,
    run: dict[str, Any] | None = None,
) -> None:
    """Per-file counts, skipped records by reason, and the totals, from a scan's manifest; then the prevalence
    table of its ``report.json`` (else the manifest's trope counts). ``run`` (``run.json``) adds the wall time
    and the shards kept from an earlier scan."""
    wall_seconds = run.get("wall_seconds") if run else None
    files = Table(title="Inputs", header_style="bold")
    files.add_column("file", no_wrap=True, overflow="ellipsis", max_width=30)
    files.add_column("format", no_wrap=True)
    files.add_column("status", no_wrap=True)
    for col in ("records", "read", "skipped"):
        files.add_column(col, justify="right", no_wrap=True)
    inputs = manifest["inputs"]
    for entry in inputs[:MAX_FILE_ROWS]:
        status = entry["status"]
        files.add_row(
            escape(entry["source"].rsplit("/", 1)[-1]),
            entry["format"] or "-",
            status if status == "ok" else f"[red]{status}[/]",
            f"{entry['records_total']:,}",
            f"{entry['records_read']:,}",
            f"{entry['records_skipped']:,}",
        )
    if len(inputs) > MAX_FILE_ROWS:
        files.add_row(f"… {len(inputs) - MAX_FILE_ROWS} more (manifest.json)", "", "", "", "", "")
    console.print(files)
    for entry in inputs:
        if entry["status"] != "ok":
            console.print(
                f"[red]{entry['status']}[/]: {escape(entry['source'].rsplit('/', 1)[-1])}: {escape(entry['message'])}"
            )

    counts = manifest["counts"]
    reasons = Table(title="Skipped records by reason", header_style="bold")
    reasons.add_column("reason")
    reasons.add_column("records", justify="right")
    for reason, n in sorted(counts["skipped_by_reason"].items(), key=lambda kv: (-kv[1], kv[0])):
        reasons.add_row(reason, f"{n:,}")
    for reason, n in sorted(counts["warnings_by_reason"].items()):
        reasons.add_row(f"{reason} (read, with warning)", f"{n:,}")
    if counts["skipped_by_reason"] or counts["warnings_by_reason"]:
        console.print(reasons)

    balanced = counts["records_read"] + counts["records_skipped"] == counts["records_total"]
    console.print(
        f"[bold]{counts['files']}[/] files, [bold]{counts['records_total']:,}[/] records: "
        f"[green]{counts['records_read']:,} read[/], {counts['records_skipped']:,} skipped"
        f"{'' if balanced else ' [red](counts do not balance!)[/]'}; "
        f"{counts['chars']:,} characters in {counts['passages']:,} passages"
        + (f"; {wall_seconds:.1f} s" if wall_seconds is not None else "")
    )
    shards = run.get("shards", {}) if run else {}
    if shards.get("kept"):
        console.print(
            f"{len(shards['kept'])} shard(s) kept from an earlier scan into {escape(out)} (complete, same input and "
            f"settings); {shards['scanned']} scanned"
        )
    if shards.get("retried"):
        console.print(f"[yellow]retried after their worker died:[/] {escape(', '.join(sorted(shards['retried'])))}")
    if manifest.get("ignored_files"):
        console.print(
            f"{len(manifest['ignored_files'])} files in the input directories were not input files "
            "(listed under ignored_files in the manifest)"
        )
    if report is not None and report.get("tropes"):
        from scanner.report.prevalence import render_prevalence

        render_prevalence(console, report)
    else:
        _render_tropes(console, manifest)
    dedup = manifest.get("dedup")
    if dedup:
        console.print(
            f"near-duplicates (Jaccard >= {dedup['threshold']}): {dedup['docs_in_duplicate_clusters']:,} of "
            f"{dedup['docs_signed']:,} documents in {dedup['duplicate_clusters']:,} cluster(s) of copies (largest "
            f"{dedup['largest_cluster']:,}); {dedup['verified_pairs']:,} of {dedup['candidate_pairs']:,} candidate "
            "pairs verified",
            markup=False,
            highlight=False,
        )
    console.print(
        f"Results in [bold]{escape(out)}[/]: report.html (open it in a browser), report.md, report.json, "
        "manifest.json, run.json, docs/, hits/, signatures/, passages/, shards/"
    )


def _render_tropes(console: Console, manifest: dict[str, Any]) -> None:
    classifier = manifest.get("classifier")
    if not classifier:
        console.print("classification was off (--no-classify): no labels")
        return
    counts = manifest["counts"]
    read = counts["records_read"]
    table = Table(title=f"Tropes (stage: {', '.join(classifier['stages'])}; taxonomy {classifier['taxonomy']})")
    table.add_column("trope")
    table.add_column("polarity")
    table.add_column("docs", justify="right")
    table.add_column("per 1k docs", justify="right")
    table.add_column("passages", justify="right")
    for trope, info in classifier["tropes"].items():
        docs = counts["docs_by_trope"].get(trope, 0)
        table.add_row(
            trope,
            info["polarity"],
            f"{docs:,}",
            f"{1000 * docs / read:.1f}" if read else "-",
            f"{counts['passages_by_trope'].get(trope, 0):,}",
        )
    console.print(table)
    genres = ", ".join(f"{n:,} {g}" for g, n in counts["docs_by_genre"].items())
    console.print(
        f"{counts['ai_cue_docs']:,} of {read:,} documents mention an AI (the gate); genre: {genres or '-'}",
        markup=False,
        highlight=False,
    )
