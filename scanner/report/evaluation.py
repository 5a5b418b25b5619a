"""The terminal rendering of an eval report."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _ci(ci: list[float] | tuple[float, float] | None) -> str:
    return "" if not ci else f"[{ci[0]:.2f}-{ci[1]:.2f}]"


def render_eval(report: dict[str, Any], console: Console) -> None:
    table = Table(title=f"tropescan eval: {report['n']} items ({', '.join(report['gold'])})")
    for col, justify in (
        ("trope", "left"),
        ("precision", "right"),
        ("95% CI", "right"),
        ("recall", "right"),
        ("95% CI ", "right"),
        ("F1", "right"),
        ("support", "right"),
        ("tp/fp/fn", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for trope, m in report["per_trope"].items():
        table.add_row(
            trope,
            _f(m["precision"]),
            _ci(m["precision_ci95"]),
            _f(m["recall"]),
            _ci(m["recall_ci95"]),
            _f(m["f1"]),
            str(m["support"]),
            f"{m['tp']}/{m['fp']}/{m['fn']}",
        )
    micro, anyt = report["micro"], report["any_trope"]
    table.add_section()
    table.add_row(
        "micro", _f(micro["precision"]), "", _f(micro["recall"]), "", _f(micro["f1"]), str(micro["support"]), ""
    )
    table.add_row("macro F1", "", "", "", "", _f(report["macro_f1"]), f"({report['macro_over']} tropes)", "")
    table.add_row(
        "any trope",
        _f(anyt["precision"]),
        _ci(anyt["precision_ci95"]),
        _f(anyt["recall"]),
        _ci(anyt["recall_ci95"]),
        _f(anyt["f1"]),
        str(anyt["support"]),
        "",
    )
    console.print(table)
    if report["confusions"]:
        conf = Table(title="most frequent confusions (gold -> predicted)")
        conf.add_column("gold")
        conf.add_column("predicted")
        conf.add_column("count", justify="right")
        for c in report["confusions"]:
            conf.add_row(c["gold"], c["predicted"], str(c["count"]))
        console.print(conf)
    tiers = report.get("misses_by_tier")
    if tiers:
        lost = Table(title="where the missed positives were lost (share of each trope's positives)")
        for col in ("trope", "positives", "found", "gate", "lexical tier", "model"):
            lost.add_column(col, justify="left" if col == "trope" else "right")
        for trope, m in tiers.items():
            lost.add_row(
                trope,
                str(m["positives"]),
                str(m["found"]),
                *(f"{m[k]} ({m[f'recall_lost_{k}']:.2f})" for k in ("gate", "lexical", "model")),
            )
        console.print(lost)
    genre = report.get("genre")
    if genre:
        console.print(
            f"genre accuracy {genre['accuracy']:.3f} {_ci(genre['accuracy_ci95'])} over {genre['n']} items: "
            + ", ".join(f"{k} {v}" for k, v in genre["confusion"].items()),
            markup=False,
            highlight=False,
        )
