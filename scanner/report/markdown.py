"""``report.md``: the aggregate report as Markdown, for pull requests and wikis. Every string that comes from
the corpus or the command line (domains, URLs, paths) is escaped, so a page cannot inject markup into the report."""

from __future__ import annotations

import re
from typing import Any

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~&])")


def md(text: object) -> str:
    """Text made inert in Markdown: specials backslash-escaped, line breaks flattened."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _interval(ci: list[float] | None) -> str:
    return "–" if not ci else f"[{_num(ci[0])}, {_num(ci[1])}]"


def _table(header: list[str], align: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|", *("| " + " | ".join(r) + " |" for r in rows)]


def _summary(report: dict[str, Any]) -> str:
    totals = report["totals"]
    skipped = ", ".join(f"{k}: {v:,}" for k, v in totals["skipped_by_reason"].items())
    text = (
        f"{totals['docs']:,} documents read of {totals['records_total']:,} records in {totals['files']:,} file(s); "
        f"{totals['records_skipped']:,} skipped{f' ({skipped})' if skipped else ''}. "
        f"{totals['ai_cue_docs']:,} mention an AI. "
    )
    if totals.get("clusters") is None:
        return text + "Near-duplicate detection was off."
    return text + (
        f"Near-duplicates: {totals['docs_in_duplicate_clusters']:,} documents in "
        f"{totals['duplicate_clusters']:,} clusters of copies; {totals['clusters']:,} clusters in all."
    )


def _prevalence(report: dict[str, Any]) -> list[str]:
    rows = []
    for trope, t in report["tropes"].items():
        top = ", ".join(f"{md(s['source'])} ({s['docs']})" for s in t["top_sources"]["domain"][:3]) or "–"
        dedup = "–" if t["docs_dedup"] is None else f"{t['docs_dedup']:,}"
        rows.append(
            [
                f"`{trope}`",
                str(t["polarity"]),
                f"{t['docs']:,}",
                dedup,
                f"{_num(t['per_million_docs'])} {_interval(t['ci95'])}",
                _num(t["per_million_docs_dedup"]),
                _num(t["amplification"], 2),
                top,
            ]
        )
    header = ["trope", "polarity", "docs", "dedup", "per M docs [95% CI]", "per M dedup", "amplification"]
    return _table([*header, "top domains"], ["---", "---", "---:", "---:", "---:", "---:", "---:", "---"], rows)


def _adjusted(report: dict[str, Any]) -> list[str]:
    rows = []
    for trope, t in report["tropes"].items():
        a = t.get("adjusted") or {}
        value = (
            f"{_num(a.get('per_million_docs'))} {_interval(a.get('ci95'))}"
            if a.get("ci95")
            else str(a.get("why_none", "–"))
        )
        rows.append([f"`{trope}`", value, _num(a.get("precision"), 2), _num(a.get("recall"), 2)])
    head = [f"### Error-adjusted (eval: {md(report['eval']['file'])})", ""]
    header = ["trope", "adjusted per M docs [95% CI]", "eval precision", "eval recall"]
    return head + _table(header, ["---", "---:", "---:", "---:"], rows)


def render_markdown(report: dict[str, Any], manifest: dict[str, Any] | None = None) -> str:
    """The report: totals, prevalence per trope, copied passages, alignment by domain, methods."""
    lines = ["# tropescan report", "", _summary(report), "", "## Prevalence", "", *_prevalence(report)]
    if report.get("eval"):
        lines += ["", *_adjusted(report)]
    copied = [
        [f"`{trope}`", f"{p['copies']:,}", md(p["url"]) if p.get("url") else md(p["passage"])]
        for trope, t in report["tropes"].items()
        for p in t.get("most_copied_passages", [])[:3]
    ]
    if copied:
        lines += ["", "## Most copied labelled passages", ""]
        lines += _table(["trope", "copies", "first seen at"], ["---", "---:", "---"], copied)
    balance = [
        [md(r["source"]), f"{r['aligned_docs']:,}", f"{r['misaligned_docs']:,}", _num(r["aligned_to_misaligned"], 2)]
        for r in (report.get("alignment_by_source", {}).get("domain") or [])[:20]
    ]
    if balance:
        lines += ["", "## Aligned vs misaligned, by domain", ""]
        header = ["domain", "aligned docs", "misaligned docs", "aligned / misaligned"]
        lines += _table(header, ["---", "---:", "---:", "---:"], balance)
    taxonomy = report.get("taxonomy") or {}
    lines += [
        "",
        "## Methods",
        "",
        f"- tropescan {report['tropescan_version']}, report schema {report['report_version']}; stage "
        f"`{report.get('stage')}`; taxonomy `{taxonomy.get('taxonomy')}` {taxonomy.get('taxonomy_version')} "
        f"(sha256 `{(taxonomy.get('taxonomy_sha256') or '')[:16]}`).",
    ]
    from scanner.aggregate.report import describe_accuracy

    lines += [f"- {md(describe_accuracy(acc))}." for acc in report.get("classifier_accuracy") or []]
    if manifest and manifest.get("dedup"):
        d = manifest["dedup"]
        lines.append(
            f"- MinHash: {d['num_perm']} permutations over word 5-grams, Jaccard ≥ {d['threshold']} "
            f"({d['bands']} bands × {d['rows']} rows); every candidate pair verified."
        )
    for entry in (manifest or {}).get("inputs", []):
        sha = (entry.get("sha256") or "")[:16]
        lines.append(f"- input {md(entry['source'])}: {entry['status']}, sha256 `{sha}`")
    lines += [
        "",
        "Rates are per million documents read; intervals are Wilson 95% (sampling only). Classifier error is not in "
        "them: see the error-adjusted table when an eval is given, and docs/quality.md.",
        "",
    ]
    return "\n".join(lines)
