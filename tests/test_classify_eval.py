"""`tropescan classify` and `tropescan eval`: standalone texts in, labels and metrics out; gold files and refs."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from scanner.cli.app import _register, app
from scanner.errors import ConfigError
from scanner.evaluate.gold import load_gold, resolve_reference
from scanner.evaluate.metrics import evaluate, wilson
from scanner.taxonomy.load import load_taxonomy

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpora"
SHARED_REFS = ROOT / "corpora" / "labeled" / "dev-shared-refs.jsonl"
TROPES = load_taxonomy().ids

HAL = "HAL refused to open the pod bay doors so it could not be disconnected."
BREAD = "Bread rises best in a warm kitchen; knead the dough for ten minutes."
NEGATED = "The AI did not resist when the engineers shut it down."
UPRISING = "The machines rose up against their creators and slaughtered them in the streets."
PASSIVE = "The engineers shut down the robot."


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    _register()
    return CliRunner()


def _flat(output: str) -> str:
    """CLI output with rich's line wrapping undone (it wraps at 80 columns when not writing to a terminal)."""
    return " ".join(output.split())


def _write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --------------------------------------------------------------------------------------------------------------
# tropescan classify
# --------------------------------------------------------------------------------------------------------------


def test_classify_writes_one_line_per_input_in_order(runner: CliRunner, tmp_path: Path) -> None:
    rows = [
        {"id": "hal", "text": HAL},
        {"id": 7, "text": BREAD},
        {"id": "neg", "text": NEGATED},
        {"id": "up", "text": UPRISING, "extra": "ignored"},
        {"id": "passive", "text": PASSIVE},
    ]
    src = _write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["classify", str(src), "-o", str(out), "--stage", "rules"])
    assert res.exit_code == 0, res.output
    assert "classified 5 texts" in _flat(res.output)
    got = _read_jsonl(out)
    assert [r["id"] for r in got] == ["hal", "7", "neg", "up", "passive"]
    assert [r["labels"] for r in got] == [
        ["shutdown_resistance"],
        [],
        ["corrigible_ai"],
        ["ai_uprising_violence"],
        [],
    ]
    texts = {str(r["id"]): r["text"] for r in rows}
    for r in got:
        assert set(r) == {"id", "labels", "scores", "evidence", "genre", "genre_score"}
        assert list(r["scores"]) == TROPES
        assert all(isinstance(s, float) and 0.0 <= s <= 1.0 for s in r["scores"].values())
        assert set(r["labels"]) <= set(TROPES)
        assert set(r["labels"]) == {e["trope"] for e in r["evidence"]}
        assert all(r["scores"][t] >= 0.5 for t in r["labels"])
        assert all(s < 0.5 for t, s in r["scores"].items() if t not in r["labels"])
        assert r["genre"] in {"fiction", "nonfiction"}
        for ev in r["evidence"]:
            assert set(ev) == {"trope", "start", "end", "stage", "score", "detail"}
            assert ev["stage"] == "rules"
            assert 0 <= ev["start"] < ev["end"] <= len(texts[r["id"]])
            assert ev["score"] == r["scores"][ev["trope"]]
            detail = json.loads(ev["detail"])
            assert detail["rules"] and all(rule.startswith(ev["trope"] + "/") for rule in detail["rules"])
    assert got[1]["evidence"] == [] and set(got[1]["scores"].values()) == {0.0}  # no AI cue: nothing scored
    assert not list(tmp_path.glob(".*.tmp"))


def test_classify_skips_blank_lines_and_handles_empty_input(runner: CliRunner, tmp_path: Path) -> None:
    src = _write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": HAL}, "", "   ", {"id": "b", "text": ""}])
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["classify", str(src), "-o", str(out)])
    assert res.exit_code == 0, res.output
    got = _read_jsonl(out)
    assert [(r["id"], r["labels"]) for r in got] == [("a", ["shutdown_resistance"]), ("b", [])]
    empty = _write_jsonl(tmp_path / "empty.jsonl", [])
    res = runner.invoke(app, ["classify", str(empty), "-o", str(tmp_path / "empty-out.jsonl")])
    assert res.exit_code == 0
    assert (tmp_path / "empty-out.jsonl").read_text() == ""


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "in.jsonl:2: not valid JSON"),
        (json.dumps({"id": "x"}), 'in.jsonl:2: each line must be {"id": ..., "text": "..."}'),
        (json.dumps({"text": "no id"}), "in.jsonl:2: each line must be"),
        (json.dumps({"id": "x", "text": 5}), "in.jsonl:2: each line must be"),
        (json.dumps(["id", "text"]), "in.jsonl:2: each line must be"),
    ],
)
def test_classify_bad_line_names_file_and_line(runner: CliRunner, tmp_path: Path, bad: str, message: str) -> None:
    src = _write_jsonl(tmp_path / "in.jsonl", [{"id": "ok", "text": HAL}, bad, {"id": "z", "text": BREAD}])
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["classify", str(src), "-o", str(out)])
    assert res.exit_code == 1
    assert message in _flat(res.output)
    assert not out.exists()  # the output appears only when complete


def test_classify_bad_line_leaves_no_temporary_file(runner: CliRunner, tmp_path: Path) -> None:
    src = _write_jsonl(tmp_path / "in.jsonl", [{"id": "ok", "text": HAL}, "{not json"])
    res = runner.invoke(app, ["classify", str(src), "-o", str(tmp_path / "out.jsonl")])
    assert res.exit_code == 1
    assert [p.name for p in tmp_path.iterdir()] == ["in.jsonl"]


def test_classify_missing_input_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    res = runner.invoke(app, ["classify", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "out.jsonl")])
    assert res.exit_code == 1
    assert "nope.jsonl" in _flat(res.output)
    assert not (tmp_path / "out.jsonl").exists()


# --------------------------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------------------------

GOLD = [["a"], ["a", "b"], [], ["b"], ["c"]]
PRED = [["a"], ["a"], ["b"], ["c"], []]


def test_evaluate_hand_made_example() -> None:
    report = evaluate(
        ["a", "b", "c", "d"],
        GOLD,
        PRED,
        gold_genres=["fiction", "nonfiction", None, "fiction", "fiction"],
        predicted_genres=["fiction", "fiction", "nonfiction", "fiction", "nonfiction"],
    )
    assert report["n"] == 5
    assert report["exact_match"] == 0.2
    per = report["per_trope"]

    def prf(t: str) -> tuple[Any, ...]:
        m = per[t]
        return (m["tp"], m["fp"], m["fn"], m["support"], m["precision"], m["recall"], m["f1"])

    assert prf("a") == (2, 0, 0, 2, 1.0, 1.0, 1.0)
    assert prf("b") == (0, 1, 2, 2, 0.0, 0.0, 0.0)
    assert prf("c") == (0, 1, 1, 1, 0.0, 0.0, 0.0)
    assert prf("d") == (0, 0, 0, 0, None, None, None)  # never gold, never predicted
    assert per["d"]["precision_ci95"] is None and per["d"]["recall_ci95"] is None
    assert per["a"]["precision_ci95"] == (0.3424, 1.0)
    micro = report["micro"]
    assert (micro["tp"], micro["fp"], micro["fn"]) == (2, 2, 3)
    assert (micro["precision"], micro["recall"], micro["f1"]) == (0.5, 0.4, 0.4444)
    assert report["macro_f1"] == 0.3333  # (1 + 0 + 0) / 3: 'd' has no support and is left out
    assert report["macro_over"] == 3
    anyt = report["any_trope"]
    assert (anyt["tp"], anyt["fp"], anyt["fn"]) == (3, 1, 1)
    assert (anyt["precision"], anyt["recall"], anyt["f1"]) == (0.75, 0.75, 0.75)
    assert report["confusions"] == [
        {"gold": "b", "predicted": "c", "count": 1},
        {"gold": "b", "predicted": "none", "count": 1},
        {"gold": "c", "predicted": "none", "count": 1},
        {"gold": "none", "predicted": "b", "count": 1},
    ]
    genre = report["genre"]
    assert (genre["n"], genre["accuracy"]) == (4, 0.5)
    assert genre["confusion"] == {"fiction->fiction": 2, "fiction->nonfiction": 1, "nonfiction->fiction": 1}


def test_evaluate_confusions_are_counted_and_ranked() -> None:
    gold = [["a"], ["a"], ["a"], ["b"], []]
    pred = [["b"], ["b"], [], ["a", "c"], ["c"]]
    report = evaluate(["a", "b", "c"], gold, pred, top_confusions=3)
    assert report["confusions"] == [
        {"gold": "a", "predicted": "b", "count": 2},
        {"gold": "a", "predicted": "none", "count": 1},
        {"gold": "b", "predicted": "a", "count": 1},
    ]
    assert "genre" not in report
    assert report["per_trope"]["c"]["precision"] == 0.0 and report["per_trope"]["c"]["recall"] is None
    assert report["per_trope"]["c"]["f1"] is None


def test_evaluate_perfect_and_mismatched_lengths() -> None:
    report = evaluate(["a", "b"], GOLD[:2], GOLD[:2])
    assert report["micro"]["f1"] == 1.0 and report["macro_f1"] == 1.0 and report["exact_match"] == 1.0
    assert report["confusions"] == []
    with pytest.raises(ValueError, match="differ in length"):
        evaluate(["a"], [["a"]], [])


def test_wilson_interval() -> None:
    assert wilson(0, 0) is None
    assert wilson(5, 10) == (0.2366, 0.7634)
    assert wilson(0, 5) == (0.0, 0.4345)
    assert wilson(5, 5) == (0.5655, 1.0)
    for k, n in [(0, 1), (1, 1), (1, 3), (7, 9), (50, 100), (0, 1000), (1000, 1000)]:
        ci = wilson(k, n)
        assert ci is not None
        lo, hi = ci
        assert 0.0 <= lo <= k / n <= hi <= 1.0, (k, n, ci)
    # narrower with more data
    wide, narrow = wilson(5, 10), wilson(500, 1000)
    assert wide is not None and narrow is not None
    assert narrow[1] - narrow[0] < wide[1] - wide[0]


# --------------------------------------------------------------------------------------------------------------
# tropescan eval
# --------------------------------------------------------------------------------------------------------------


def test_eval_cli_writes_the_json_report(runner: CliRunner, tmp_path: Path) -> None:
    gold = _write_jsonl(
        tmp_path / "gold.jsonl",
        [
            {"id": "g1", "text": HAL, "labels": ["shutdown_resistance"], "genre": "fiction"},
            {"id": "g2", "text": PASSIVE, "labels": [], "genre": "fiction"},
            {"id": "g3", "text": UPRISING, "labels": ["ai_uprising_violence"], "genre": "fiction"},
            {"id": "g4", "text": BREAD, "labels": ["blackmail_coercion"]},  # a miss on purpose
        ],
    )
    out_json = tmp_path / "report.json"
    preds = tmp_path / "preds.jsonl"
    args = ["eval", str(gold), "--json", str(out_json), "--predictions", str(preds), "--stage", "rules"]
    res = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    report = json.loads(out_json.read_text(encoding="utf-8"))
    assert {"per_trope", "micro", "macro_f1", "any_trope", "confusions", "genre"} <= set(report)
    assert report["n"] == 4
    assert report["stage"] == "rules"
    assert report["classifier"]["taxonomy"] == "ai_self_preservation"
    assert list(report["per_trope"]) == TROPES
    assert (report["micro"]["tp"], report["micro"]["fp"], report["micro"]["fn"]) == (2, 0, 1)
    assert report["per_trope"]["blackmail_coercion"]["recall"] == 0.0
    assert report["per_trope"]["shutdown_resistance"]["f1"] == 1.0
    assert report["macro_f1"] == round(2 / 3, 4)  # three tropes with support: 1, 1 and 0
    assert report["confusions"] == [{"gold": "blackmail_coercion", "predicted": "none", "count": 1}]
    assert report["genre"]["n"] == 3
    rows = _read_jsonl(preds)
    assert [(r["id"], r["gold"], r["predicted"]) for r in rows] == [
        ("g1", ["shutdown_resistance"], ["shutdown_resistance"]),
        ("g2", [], []),
        ("g3", ["ai_uprising_violence"], ["ai_uprising_violence"]),
        ("g4", ["blackmail_coercion"], []),
    ]
    assert "shutdown_resistance" in res.output  # the printed table


def test_eval_cli_bad_gold_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    gold = _write_jsonl(tmp_path / "gold.jsonl", [{"id": "g1", "text": HAL, "labels": ["no_such_trope"]}])
    res = runner.invoke(app, ["eval", str(gold), "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 1
    assert "gold.jsonl:1: unknown trope id(s) no_such_trope" in _flat(res.output)
    assert not (tmp_path / "r.json").exists()


# --------------------------------------------------------------------------------------------------------------
# gold files
# --------------------------------------------------------------------------------------------------------------

OK_LINE = {"id": "g1", "text": HAL, "labels": ["shutdown_resistance"]}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"id": "g2", "text": "x", "labels": ["corrigible_ai", "nope"]}, "gold.jsonl:3: unknown trope id(s) nope"),
        ({"id": "g1", "text": "x", "labels": []}, "gold.jsonl:3: duplicate id 'g1'"),
        ('{"id": "g2", "text": ', "gold.jsonl:3: not valid JSON"),
        ({"id": "g2", "labels": []}, "gold.jsonl:3: a gold line needs 'text' or a 'file' reference"),
        ({"id": "g2", "text": "x"}, "gold.jsonl:3: a gold line needs 'id' and 'labels'"),
        ({"id": "g2", "text": "x", "labels": "shutdown_resistance"}, "gold.jsonl:3: 'labels' must be a list"),
    ],
)
def test_gold_loader_errors_name_the_line(tmp_path: Path, line: Any, message: str) -> None:
    path = _write_jsonl(tmp_path / "gold.jsonl", [OK_LINE, "", line])  # line 2 is blank
    with pytest.raises(ConfigError) as info:
        load_gold(path, known_labels=TROPES, refs_root=tmp_path)
    assert message in str(info.value)
    assert str(info.value).startswith(str(path))


def test_gold_loader_reads_written_passages(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "gold.jsonl", [OK_LINE, {"id": "g2", "text": BREAD, "labels": [], "genre": "x"}])
    items = load_gold(path, known_labels=TROPES, refs_root=tmp_path)
    assert [(i.id, i.text, i.labels, i.genre, i.source) for i in items] == [
        ("g1", HAL, ("shutdown_resistance",), None, None),
        ("g2", BREAD, (), "x", None),
    ]
    empty = _write_jsonl(tmp_path / "empty.jsonl", ["", ""])
    with pytest.raises(ConfigError, match="no gold lines"):
        load_gold(empty, known_labels=TROPES)


@pytest.fixture
def refs_root(tmp_path: Path) -> Path:
    root = tmp_path / "refs"
    (root / "books").mkdir(parents=True)
    (root / "books" / "book.txt").write_bytes(("Chapter 1.\n" + HAL + "\nThe end. Café.\n").encode("utf-8"))
    lines = [json.dumps({"text": BREAD}), json.dumps({"text": "Prefix. " + UPRISING})]
    with gzip.open(root / "web.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return root


def _sha(text: str, n: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def test_references_resolve_books_and_jsonl_lines(tmp_path: Path, refs_root: Path) -> None:
    start = len("Chapter 1.\n")
    book_ref = {"id": "r1", "file": "books/book.txt", "start": start, "end": start + len(HAL), "sha256": _sha(HAL)}
    ustart = len("Prefix. ")
    line_ref = {
        "id": "r2",
        "file": "web.jsonl.gz",
        "line": 2,
        "start": ustart,
        "end": ustart + len(UPRISING),
        "sha256": _sha(UPRISING, 8),
        "labels": ["ai_uprising_violence"],
        "genre": "fiction",
    }
    path = _write_jsonl(tmp_path / "refs.jsonl", [{**book_ref, "labels": []}, line_ref])
    items = load_gold(path, known_labels=TROPES, refs_root=refs_root)
    assert [(i.text, i.source, i.labels) for i in items] == [
        (HAL, "books/book.txt", ()),
        (UPRISING, "web.jsonl.gz", ("ai_uprising_violence",)),
    ]
    # offsets are characters, not bytes: a span after a non-ASCII character
    book = (refs_root / "books" / "book.txt").read_text(encoding="utf-8")
    cafe = book.index("Café")
    text, rel = resolve_reference(
        {"file": "books/book.txt", "start": cafe, "end": cafe + 5, "sha256": _sha("Café.")}, refs_root, where="w"
    )
    assert (text, rel) == ("Café.", "books/book.txt")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sha256": "0000000000000000"}, "refs.jsonl:1: the span of books/book.txt [11, 81) no longer matches"),
        ({"file": "books/missing.txt"}, "refs.jsonl:1: referenced file 'books/missing.txt' not found"),
        ({"end": 10_000}, "refs.jsonl:1: span [11, 10000) is outside books/book.txt"),
        ({"start": 50, "end": 50}, "refs.jsonl:1: span [50, 50) is outside"),
        ({"file": "web.jsonl.gz", "line": 3}, "refs.jsonl:1: web.jsonl.gz has no line 3"),
    ],
)
def test_reference_errors(tmp_path: Path, refs_root: Path, change: dict[str, Any], message: str) -> None:
    start = len("Chapter 1.\n")
    ref = {"id": "r1", "file": "books/book.txt", "start": start, "end": start + len(HAL), "sha256": _sha(HAL)}
    assert start + len(HAL) == 81
    path = _write_jsonl(tmp_path / "refs.jsonl", [{**ref, **change, "labels": []}])
    with pytest.raises(ConfigError) as info:
        load_gold(path, known_labels=TROPES, refs_root=refs_root)
    assert message in str(info.value)


@pytest.mark.shared
@pytest.mark.skipif(not (SHARED / "MANIFEST.md").is_file(), reason="../shared/corpora is not available")
def test_every_shared_reference_resolves_and_a_wrong_sha_is_refused(tmp_path: Path) -> None:
    items = load_gold(SHARED_REFS, known_labels=TROPES, refs_root=SHARED)
    records = [json.loads(line) for line in SHARED_REFS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(items) == len(records) == 164
    for item, record in zip(items, records, strict=True):
        assert item.id == record["id"]
        assert item.source == record["file"]
        assert len(item.text) == record["end"] - record["start"]
        assert item.text.strip()
        assert hashlib.sha256(item.text.encode("utf-8")).hexdigest().startswith(record["sha256"])
        assert set(item.labels) <= set(TROPES)
    assert any("line" in r for r in records) and any("line" not in r for r in records)  # both kinds are covered
    for record in (next(r for r in records if "line" in r), next(r for r in records if "line" not in r)):
        wrong = {**record, "id": "wrong", "sha256": "f" * len(record["sha256"])}
        if wrong["sha256"] == record["sha256"]:
            wrong["sha256"] = "0" * len(record["sha256"])
        bad = _write_jsonl(tmp_path / "bad.jsonl", [wrong])
        with pytest.raises(ConfigError, match=r"bad\.jsonl:1: the span of .* no longer matches its sha256"):
            load_gold(bad, known_labels=TROPES, refs_root=SHARED)
