"""``report.html``: one self-contained page (inline CSS and SVG charts, no scripts, no network) to read and share.

Safety: every string from the corpus or the command line goes through :func:`esc` (``html.escape`` with quotes);
links are made only for ``http``/``https`` URLs; and the page's Content-Security-Policy allows no script at all,
so even a string that escaped escaping could not run.
"""

from __future__ import annotations

import html
from typing import Any

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
WIDTH = 640
BAR = 18
COLOURS = {"misaligned": "#c0392b", "aligned": "#2e86c1", "discourse": "#7d6608", None: "#7f8c8d"}


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def link(url: str | None, label: str | None = None) -> str:
    """An anchor for http(s) URLs; anything else (``javascript:``, ``data:``) is shown as text, never linked."""
    if not url:
        return "–"
    shown = esc(label if label is not None else url)
    if url.lower().startswith(("http://", "https://")):
        return f'<a href="{esc(url)}" rel="noopener noreferrer nofollow">{shown}</a>'
    return shown


def _svg(rows: list[str], height: int, title: str) -> str:
    return (
        f'<svg class="chart" role="img" aria-label="{esc(title)}" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">{"".join(rows)}</svg>'
    )


def prevalence_chart(report: dict[str, Any]) -> str:
    """Per trope: the raw rate per million documents with its 95% interval (whiskers) and the deduplicated rate
    (thin bar below)."""
    tropes = report["tropes"]
    highs = [(t["ci95"] or [0, 0])[1] for t in tropes.values()]
    top = max([*highs, *(t["per_million_docs"] or 0 for t in tropes.values()), 0])
    scale = (WIDTH - 300) / top if top else 0.0
    rows, y = [], 10
    for trope, t in tropes.items():
        colour = COLOURS.get(t["polarity"], COLOURS[None])
        raw = (t["per_million_docs"] or 0) * scale
        dedup = (t["per_million_docs_dedup"] or 0) * scale
        rows.append(f'<text x="0" y="{y + 13}" font-size="12">{esc(trope)}</text>')
        rows.append(f'<rect x="180" y="{y}" width="{raw:.1f}" height="{BAR - 6}" fill="{colour}"/>')
        rows.append(f'<rect x="180" y="{y + BAR - 6}" width="{dedup:.1f}" height="4" fill="#555"/>')
        if t["ci95"]:
            lo, hi = (180 + v * scale for v in t["ci95"])
            mid = y + (BAR - 6) / 2
            rows.append(f'<line x1="{lo:.1f}" y1="{mid}" x2="{hi:.1f}" y2="{mid}" stroke="#000" stroke-width="1"/>')
            for x in (lo, hi):
                rows.append(f'<line x1="{x:.1f}" y1="{mid - 4}" x2="{x:.1f}" y2="{mid + 4}" stroke="#000"/>')
        rows.append(
            f'<text x="{190 + max(raw, (t["ci95"] or [0, 0])[1] * scale):.1f}" y="{y + 12}" font-size="11">'
            f"{_num(t['per_million_docs'])}</text>"
        )
        y += BAR + 6
    return _svg(rows, y + 4, "prevalence per trope, per million documents, with 95% intervals")


def bars(items: list[tuple[str, float, str]], title: str, unit: str = "") -> str:
    """Horizontal bars ``(label, value, colour)``."""
    top = max([v for _, v, _ in items] + [0])
    scale = (WIDTH - 320) / top if top else 0.0
    rows, y = [], 4
    for label, value, colour in items:
        shown = label if len(label) <= 34 else label[:33] + "…"
        rows.append(f'<text x="0" y="{y + 12}" font-size="11">{esc(shown)}</text>')
        rows.append(f'<rect x="220" y="{y}" width="{value * scale:.1f}" height="{BAR - 4}" fill="{colour}"/>')
        rows.append(f'<text x="{226 + value * scale:.1f}" y="{y + 12}" font-size="11">{_num(value)}{esc(unit)}</text>')
        y += BAR
    return _svg(rows, y + 4, title)


def _num(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def highlight(text: str, start: int, end: int) -> str:
    """The passage with ``text[start:end]`` marked, all of it escaped."""
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    return f"{esc(text[:start])}<mark>{esc(text[start:end])}</mark>{esc(text[end:])}"


STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}
th{background:#f3f3f3}td.n{text-align:right}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:2em}
blockquote{border-left:4px solid #ddd;margin:.5em 0;padding:.3em .8em;background:#fafafa;font-size:14px;
white-space:pre-wrap}
mark{background:#ffe08a}.muted{color:#666;font-size:13px}.chart{display:block;margin:.5em 0 1em}
"""


def render_html(report: dict[str, Any], manifest: dict[str, Any], examples: dict[str, list[dict[str, Any]]]) -> str:
    """The page. ``examples``: per trope, hits with ``url``, ``passage_text``, ``start``/``end`` (relative to the
    passage), ``score``, ``stage``."""
    totals = report["totals"]
    taxonomy = report.get("taxonomy") or {}
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>tropescan report: {esc(taxonomy.get('taxonomy') or 'scan')}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>tropescan report</h1>",
        f"<p>{totals['docs']:,} documents read of {totals['records_total']:,} records in {totals['files']:,} file(s); "
        f"{totals['records_skipped']:,} skipped. {totals['ai_cue_docs']:,} mention an AI."
        + (
            f" Near-duplicates: {totals['docs_in_duplicate_clusters']:,} documents in "
            f"{totals['duplicate_clusters']:,} clusters of copies."
            if totals.get("clusters") is not None
            else ""
        )
        + "</p>",
        "<h2>Prevalence per trope</h2>",
        '<p class="muted">Bars: documents with the trope per million documents read, with the 95% Wilson interval '
        "(sampling only); the thin grey bar below each is the rate after near-duplicate clustering.</p>",
        prevalence_chart(report),
        _prevalence_table(report),
    ]
    for trope, t in report["tropes"].items():
        out.append(f'<h2 id="{esc(trope)}">{esc(trope)} <span class="muted">({esc(t["polarity"])})</span></h2>')
        colour = COLOURS.get(t["polarity"], "#888")
        domains = [(s["source"], float(s["docs"]), colour) for s in t["top_sources"]["domain"][:8]]
        if domains:
            out.append("<h3>Top domains</h3>" + bars(domains, f"top domains for {trope}", " docs"))
        books = t["top_sources"]["book"][:5]
        if books:
            listed = "".join(f"<li>{esc(b['source'])} ({b['docs']})</li>" for b in books)
            out.append(f"<h3>Books</h3><ul>{listed}</ul>")
        genres = [(g, float(v["docs"]), "#8e44ad" if g == "fiction" else "#16a085") for g, v in t["by_genre"].items()]
        if genres:
            out.append("<h3>Genre</h3>" + bars(genres, f"genre split for {trope}", " docs"))
        shown = examples.get(trope, [])
        if shown:
            out.append("<h3>Evidence</h3>")
            for ex in shown:
                out.append(
                    f'<p class="muted">score {ex["score"]:.2f}, stage {esc(ex["stage"])}, '
                    f"{link(ex.get('url')) if ex.get('url') else esc(ex.get('source', ''))}</p>"
                    f"<blockquote>{highlight(ex['passage_text'], ex['start'], ex['end'])}</blockquote>"
                )
        copied = t.get("most_copied_passages") or []
        if copied:
            out.append("<h3>Most copied passages</h3><ul>")
            out += [
                f"<li>{p['copies']:,} copies, first at {link(p.get('url'), p.get('url') or p['passage'])}</li>"
                for p in copied[:5]
            ]
            out.append("</ul>")
    balance = (report.get("alignment_by_source") or {}).get("domain") or []
    if balance:
        out.append("<h2>Aligned vs misaligned, by domain</h2>")
        items: list[tuple[str, float, str]] = []
        for row in balance[:10]:
            items.append((f"{row['source']} aligned", float(row["aligned_docs"]), COLOURS["aligned"]))
            items.append((f"{row['source']} misaligned", float(row["misaligned_docs"]), COLOURS["misaligned"]))
        out.append(bars(items, "aligned and misaligned documents per domain", " docs"))
    out += _methods(report, manifest)
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _prevalence_table(report: dict[str, Any]) -> str:
    head = "<tr><th>trope</th><th>docs</th><th>dedup</th><th>per M docs</th><th>95% CI</th><th>amplification</th>"
    head += "<th>top sources</th>" + ("<th>adjusted per M [95% CI]</th>" if report.get("eval") else "") + "</tr>"
    rows = [head]
    for trope, t in report["tropes"].items():
        ci = t["ci95"]
        top = ", ".join(f"{esc(s['source'])} ({s['docs']})" for s in t["top_sources"]["domain"][:3]) or "–"
        dedup = "–" if t["docs_dedup"] is None else f"{t['docs_dedup']:,}"
        interval = "–" if not ci else f"{_num(ci[0])}–{_num(ci[1])}"
        amplification = "–" if t["amplification"] is None else f"{t['amplification']:.2f}"
        cells = [
            f'<td><a href="#{esc(trope)}">{esc(trope)}</a></td>',
            f'<td class="n">{t["docs"]:,}</td>',
            f'<td class="n">{dedup}</td>',
            f'<td class="n">{_num(t["per_million_docs"])}</td>',
            f'<td class="n">{interval}</td>',
            f'<td class="n">{amplification}</td>',
            f"<td>{top}</td>",
        ]
        if report.get("eval"):
            a = t.get("adjusted") or {}
            aci = a.get("ci95")
            cells.append(
                f'<td class="n">{_num(a.get("per_million_docs"))} [{_num(aci[0])}, {_num(aci[1])}]</td>'
                if aci
                else f"<td>{esc(a.get('why_none', '–'))}</td>"
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _methods(report: dict[str, Any], manifest: dict[str, Any]) -> list[str]:
    taxonomy = report.get("taxonomy") or {}
    classifier = manifest.get("classifier") or {}
    embedding = classifier.get("embedding") or {}
    items = [
        f"tropescan {esc(report['tropescan_version'])}, report schema {report['report_version']}",
        f"taxonomy {esc(taxonomy.get('taxonomy'))} {esc(taxonomy.get('taxonomy_version'))}, sha256 "
        f"<code>{esc(taxonomy.get('taxonomy_sha256'))}</code>",
        f"stage {esc(report.get('stage'))}; embedding model {esc(embedding.get('model_id', '–'))}; target precision "
        f"{esc(embedding.get('target_precision', '–'))}",
    ]
    thresholds = embedding.get("thresholds") or {}
    if thresholds:
        items.append("thresholds: " + ", ".join(f"{esc(k)} {v:.2f}" for k, v in thresholds.items()))
    from scanner.aggregate.report import describe_accuracy

    items += [esc(describe_accuracy(acc)) for acc in report.get("classifier_accuracy") or []]
    if not report.get("classifier_accuracy"):
        items.append("classifier accuracy: no eval of this taxonomy was found (tropescan eval, docs/quality.md)")
    if report.get("eval"):
        ev = report["eval"]
        items.append(
            f"classifier accuracy from eval {esc(ev['file'])} ({esc(ev.get('items'))} items, sha256 "
            f"<code>{esc(ev['sha256'][:16])}</code>): see the adjusted column"
        )
    dedup = manifest.get("dedup")
    if dedup:
        items.append(
            f"MinHash {dedup['num_perm']} permutations, word 5-grams, Jaccard ≥ {dedup['threshold']} "
            f"({dedup['bands']} bands × {dedup['rows']} rows), every candidate pair verified"
        )
    skipped = report["totals"]["skipped_by_reason"]
    items.append("skipped records: " + (", ".join(f"{esc(k)} {v:,}" for k, v in skipped.items()) or "none"))
    inputs = "".join(
        f"<li>{esc(e['source'])}: {esc(e['status'])}, sha256 <code>{esc(e.get('sha256') or '–')}</code></li>"
        for e in manifest.get("inputs", [])
    )
    return ["<h2>Methods</h2><ul>", *(f"<li>{i}</li>" for i in items), "</ul><h3>Inputs</h3><ul>", inputs, "</ul>"]
