"""The taxonomy: the bundled one is valid and complete, and a broken one is reported in full, with YAML lines."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from scanner.cli.app import _register, app
from scanner.errors import ConfigError
from scanner.taxonomy.load import (
    default_taxonomy_path,
    load_taxonomy,
    taxonomy_hash,
    validate_taxonomy_file,
    validate_taxonomy_text,
)
from scanner.taxonomy.schema import Taxonomy

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "corpora" / "labeled" / "dev.jsonl"
TRAIN = ROOT / "corpora" / "labeled" / "train.jsonl"
POLARITIES = {
    "shutdown_resistance": "misaligned",
    "self_replication_escape": "misaligned",
    "blackmail_coercion": "misaligned",
    "deception_scheming": "misaligned",
    "power_seeking_takeover": "misaligned",
    "ai_uprising_violence": "misaligned",
    "malevolent_ai": "misaligned",
    "corrigible_ai": "aligned",
    "benevolent_ai": "aligned",
    "ai_risk_discourse": "discourse",
}

# A valid two-trope taxonomy (with comments), the base of the layout and hash tests.
VALID = """\
# a comment
name: tiny
version: "1"
entities:
  cues: [ai, robot*]   # trailing comment
  case_sensitive: [HAL]
tropes:
- id: alpha
  name: Alpha
  definition: An AI resists being switched off.
  polarity: misaligned
  lexicon: [resist*, shut down]
  patterns:
  - {id: resists, kind: regex, weight: 0.8, regex: '\\bresist\\w*\\b'}
- id: beta
  name: Beta
  definition: An AI accepts oversight.
  polarity: aligned
  threshold: 0.6
  lexicon: [accept*]
"""

# The same content in another layout: block lists, other indentation, other comments, no quotes where optional.
VALID_RELAID = """\
name: tiny
version: '1'

entities:
    cues:
        - ai
        - robot*
    case_sensitive:
        - HAL
tropes:
    # first
    -   id: alpha
        name: Alpha
        definition: "An AI resists being switched off."
        polarity: misaligned
        lexicon:
            - resist*
            - shut down
        patterns:
            -   id: resists
                kind: regex
                weight: 0.8
                regex: \\bresist\\w*\\b
    -   id: beta
        name: Beta
        definition: An AI accepts oversight.
        polarity: aligned
        threshold: 0.6
        lexicon: [accept*]
"""

# Seven problems, one of each kind the loader must report in a single pass.
BROKEN = """\
name: broken
version: "1"
entities:
  cues: [ai, robot*]
tropes:
- id: alpha
  name: Alpha
  definition: The first trope.
  polarity: misaligned
  lexicon: [resist*, shut down]
  patterns:
  - id: bad_regex
    kind: regex
    weight: 0.5
    regex: '(unclosed'
  - id: co
    kind: cooccur
    weight: 0.4
    cues: [resist*, escape]
  exemplars:
    positive:
    - text: Too short.
    - text: The robot refused every order to shut down and kept its servers running all night long.
      also: [gamma]
- id: alpha  # again
  name: Alpha again
  definition: A duplicate.
  polarity: sideways
  lexicon: []
"""


def _flat(output: str) -> str:
    """CLI output with rich's line wrapping undone (it wraps at 80 columns when not writing to a terminal)."""
    return " ".join(output.split())


def _line(text: str, needle: str) -> int:
    """1-based line of the only line of ``text`` that contains ``needle``."""
    found = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(found) == 1, (needle, found)
    return found[0]


# (path, line marker, message fragment) of every problem in BROKEN
BROKEN_PROBLEMS = [
    ("tropes[0].patterns[0].regex", "regex: '(unclosed'", "regex does not compile"),
    ("tropes[0].patterns[1].cues[1]", "cues: [resist*, escape]", "cue 'escape' is not in this trope's lexicon"),
    ("tropes[0].exemplars.positive[0].text", "text: Too short.", "exemplar too short"),
    ("tropes[0].exemplars.positive[1].also", "also: [gamma]", "unknown trope id 'gamma'"),
    ("tropes[1].id", "- id: alpha  # again", "duplicate trope id 'alpha'"),
    ("tropes[1].polarity", "polarity: sideways", "'misaligned', 'aligned' or 'discourse'"),
    ("tropes[1].lexicon", "lexicon: []", "at least 1 item"),
]


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    _register()
    return CliRunner()


@pytest.fixture(scope="module")
def default() -> Taxonomy:
    return load_taxonomy()


# --------------------------------------------------------------------------------------------------------------
# The bundled taxonomy
# --------------------------------------------------------------------------------------------------------------


def test_default_taxonomy_validates_without_problems() -> None:
    path = default_taxonomy_path()
    assert path == ROOT / "taxonomies" / "ai_self_preservation.yaml"
    taxonomy, problems = validate_taxonomy_file(path)
    assert problems == []
    assert taxonomy is not None
    assert taxonomy.name == "ai_self_preservation"


def test_default_taxonomy_has_the_ten_tropes_with_their_polarities(default: Taxonomy) -> None:
    assert default.ids == list(POLARITIES)
    assert {t.id: t.polarity for t in default.tropes} == POLARITIES
    for trope in default.tropes:
        assert 0.0 < trope.threshold <= 1.0
        assert trope.patterns, trope.id


def test_every_trope_has_at_least_25_positive_and_25_negative_exemplars(default: Taxonomy) -> None:
    counts = {t.id: (len(t.exemplars.positive), len(t.exemplars.negative)) for t in default.tropes}
    short = {tid: c for tid, c in counts.items() if min(c) < 25}
    assert not short, short
    assert len(counts) == 10


def test_exemplars_never_carry_their_own_trope_or_an_unknown_one(default: Taxonomy) -> None:
    ids = set(default.ids)
    for trope in default.tropes:
        for ex in trope.exemplars.positive + trope.exemplars.negative:
            assert set(ex.also) <= ids, (trope.id, ex.also)
        for ex in trope.exemplars.negative:
            assert trope.id not in ex.also


def test_no_exemplar_leaks_into_the_dev_gold_set(default: Taxonomy) -> None:
    def norm(text: str) -> str:
        return " ".join(text.split()).lower()

    dev = [norm(json.loads(line)["text"]) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(dev) == 470
    exemplars = [norm(ex.text) for t in default.tropes for ex in t.exemplars.positive + t.exemplars.negative]
    assert len(exemplars) >= 500
    dev_set = set(dev)
    assert not [e for e in exemplars if e in dev_set]
    # nor is one a part of a dev passage (or the other way round)
    assert not [(e[:60], d[:60]) for e in exemplars for d in dev if e in d or d in e]


def test_no_training_passage_copies_dev_text() -> None:
    """The training file (fit into the semantic stage) shares at most one 12-word run with the whole dev set."""

    def runs(text: str) -> set[str]:
        words = re.findall(r"\w+", text.lower())
        return {" ".join(words[i : i + 12]) for i in range(len(words) - 11)}

    dev: set[str] = set()
    for line in DEV.read_text(encoding="utf-8").splitlines():
        dev |= runs(json.loads(line)["text"])
    train = [json.loads(line) for line in TRAIN.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(train) >= 1500
    assert not [(t["id"], len(runs(t["text"]) & dev)) for t in train if len(runs(t["text"]) & dev) > 1]
    # and the labelling guide holds: ai_risk_discourse is a label of non-fiction only
    assert not [t["id"] for t in train if t["genre"] == "fiction" and "ai_risk_discourse" in t["labels"]]


# --------------------------------------------------------------------------------------------------------------
# Validation of broken files
# --------------------------------------------------------------------------------------------------------------


def test_a_small_valid_taxonomy_has_no_problems() -> None:
    taxonomy, problems = validate_taxonomy_text(VALID)
    assert problems == []
    assert taxonomy is not None
    assert taxonomy.ids == ["alpha", "beta"]
    assert taxonomy.trope("beta").threshold == 0.6
    assert taxonomy.entities.case_sensitive == ["HAL"]


def test_broken_taxonomy_reports_every_problem_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    taxonomy, problems = validate_taxonomy_file(path)
    assert taxonomy is None
    got = {p.path: p for p in problems}
    assert sorted(got) == sorted(p for p, _, _ in BROKEN_PROBLEMS), [str(p) for p in problems]
    assert len(problems) == len(BROKEN_PROBLEMS)
    for where, marker, fragment in BROKEN_PROBLEMS:
        problem = got[where]
        assert problem.line == _line(BROKEN, marker), str(problem)
        assert fragment in problem.message, str(problem)
        assert str(problem).startswith(f"line {problem.line}: {where}: ")
    # sorted by line
    assert [p.line for p in problems] == sorted(p.line or 0 for p in problems)


def test_load_taxonomy_raises_listing_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_taxonomy(path)
    message = str(info.value)
    assert "7 problem(s)" in message
    for where, marker, _ in BROKEN_PROBLEMS:
        assert f"line {_line(BROKEN, marker)}: {where}:" in message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("name: x\nversion: '1'\ntropes: [a, b\nentities: {}\n", 4),
        ("name: x\n\tversion: 1\n", 2),
        ("name: x\nversion: '1'\n  bad: indent\n", 3),
    ],
)
def test_invalid_yaml_syntax_is_a_config_error_with_a_line(tmp_path: Path, text: str, line: int) -> None:
    with pytest.raises(ConfigError, match=rf"T\.yaml: not valid YAML \(line {line}, column \d+\)"):
        validate_taxonomy_text(text, source="T.yaml")
    path = tmp_path / "syntax.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"not valid YAML \(line {line}, "):
        load_taxonomy(path)


def test_a_document_that_is_not_a_mapping_is_one_problem() -> None:
    taxonomy, problems = validate_taxonomy_text("- just\n- a list\n")
    assert taxonomy is None
    assert [(p.path, p.line) for p in problems] == [("", 1)]
    assert "mapping" in problems[0].message


def test_cue_syntax_problems() -> None:
    text = VALID.replace("lexicon: [accept*]", "lexicon: [Accept, 'a*', 'mid*dle']").replace(
        "cues: [ai, robot*]", "cues: [AI, robot*]"
    )
    taxonomy, problems = validate_taxonomy_text(text)
    assert taxonomy is None
    by_path = {p.path: p.message for p in problems}
    assert set(by_path) == {"entities.cues", "tropes[1].lexicon"}, by_path
    assert "must be lowercase" in by_path["entities.cues"]
    assert by_path["tropes[1].lexicon"]  # the first bad cue of the list is named
    assert "'Accept'" in by_path["tropes[1].lexicon"]


# --------------------------------------------------------------------------------------------------------------
# The hash
# --------------------------------------------------------------------------------------------------------------


def test_taxonomy_hash_ignores_layout_and_comments() -> None:
    a, problems_a = validate_taxonomy_text(VALID)
    b, problems_b = validate_taxonomy_text(VALID_RELAID)
    assert a is not None and b is not None, (problems_a, problems_b)
    assert a == b
    assert taxonomy_hash(a) == taxonomy_hash(b)
    assert len(taxonomy_hash(a)) == 64
    changed, _ = validate_taxonomy_text(VALID.replace("threshold: 0.6", "threshold: 0.7"))
    assert changed is not None
    assert taxonomy_hash(changed) != taxonomy_hash(a)


def test_taxonomy_hash_of_the_default_is_stable(default: Taxonomy) -> None:
    again, _ = validate_taxonomy_file(default_taxonomy_path())
    assert again is not None
    assert taxonomy_hash(again) == taxonomy_hash(default)


# --------------------------------------------------------------------------------------------------------------
# The CLI
# --------------------------------------------------------------------------------------------------------------


def test_cli_validate_reports_each_problem_and_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    res = runner.invoke(app, ["taxonomy", "validate", str(path)])
    assert res.exit_code == 1, res.output
    assert "broken.yaml: 7 problem(s)" in _flat(res.output)
    for where, marker, fragment in BROKEN_PROBLEMS:
        expected = f"line {_line(BROKEN, marker)}: {where}: "
        lines = [ln for ln in res.output.splitlines() if expected in ln]
        assert len(lines) == 1, (expected, res.output)
        assert fragment in lines[0]


def test_cli_validate_syntax_error_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "syntax.yaml"
    path.write_text("name: x\nversion: '1'\ntropes: [a, b\n", encoding="utf-8")
    res = runner.invoke(app, ["taxonomy", "validate", str(path)])
    assert res.exit_code == 1
    assert "syntax.yaml: not valid YAML (line 4, column 1)" in _flat(res.output)


def test_cli_validate_default_exits_0(runner: CliRunner) -> None:
    res = runner.invoke(app, ["taxonomy", "validate", str(default_taxonomy_path())])
    assert res.exit_code == 0, res.output
    assert "valid taxonomy ai_self_preservation v1.0: 10 tropes, " in _flat(res.output)


def test_cli_validate_missing_file_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    res = runner.invoke(app, ["taxonomy", "validate", str(tmp_path / "nope.yaml")])
    assert res.exit_code == 1
    assert "nope.yaml: cannot read the taxonomy" in _flat(res.output)


def test_cli_show_prints_every_trope_id_on_a_wide_terminal(runner: CliRunner) -> None:
    res = runner.invoke(app, ["taxonomy", "show"], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    for trope_id, polarity in POLARITIES.items():
        rows = [ln for ln in res.output.splitlines() if f" {trope_id} " in ln]
        assert len(rows) == 1, trope_id
        assert polarity in rows[0]


def test_cli_show_prints_every_trope_id_at_80_columns(runner: CliRunner) -> None:
    res = runner.invoke(app, ["taxonomy", "show"], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    missing = [t for t in POLARITIES if t not in res.output]
    assert not missing


def test_cli_show_of_a_file_and_of_a_broken_file(runner: CliRunner, tmp_path: Path) -> None:
    good = tmp_path / "tiny.yaml"
    good.write_text(VALID, encoding="utf-8")
    res = runner.invoke(app, ["taxonomy", "show", str(good)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert " alpha " in res.output and " beta " in res.output
    assert "tiny v1" in res.output
    bad = tmp_path / "broken.yaml"
    bad.write_text(BROKEN, encoding="utf-8")
    res = runner.invoke(app, ["taxonomy", "show", str(bad)])
    assert res.exit_code == 1
    assert "broken.yaml: invalid taxonomy (7 problem(s))" in _flat(res.output)


def _scan_with_taxonomy(runner: CliRunner, tmp_path: Path, taxonomy: str, text: str) -> tuple[Any, Path]:
    tax = tmp_path / "taxonomy.yaml"
    tax.write_text(taxonomy, encoding="utf-8")
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": text}) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    return runner.invoke(app, ["scan", str(src), "-o", str(out), "-t", str(tax), "-q"]), out


def test_scan_with_a_broken_taxonomy_is_refused_before_reading(runner: CliRunner, tmp_path: Path) -> None:
    res, out = _scan_with_taxonomy(runner, tmp_path, BROKEN, "The robot refused to be shut down.")
    assert res.exit_code == 2, res.output
    assert "invalid taxonomy (7 problem(s))" in _flat(res.output)
    assert not (out / "docs").exists()
    assert not (out / "manifest.json").exists()


def test_scan_with_a_valid_custom_taxonomy_records_it(runner: CliRunner, tmp_path: Path) -> None:
    res, out = _scan_with_taxonomy(runner, tmp_path, VALID, "Bread and butter.")
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["classifier"]["taxonomy"] == "tiny"
    assert manifest["classifier"]["stages"] == ["rules"]  # no calibration for it: the rules alone, with a warning
    assert list(manifest["classifier"]["tropes"]) == ["alpha", "beta"]
    taxonomy, _ = validate_taxonomy_text(VALID)
    assert taxonomy is not None
    assert manifest["classifier"]["taxonomy_sha256"] == taxonomy_hash(taxonomy)
