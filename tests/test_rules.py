"""The rule stage: the cue gate, candidate sentences, rule patterns (negation, passive, actor), and evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.classify.classifier import Classifier
from scanner.classify.cues import ENTITY, CueMatcher, fold
from scanner.classify.rules import CUE_SCORE, MAX_SCORE
from scanner.classify.sentences import split_sentences
from scanner.classify.texts import TextResult, classify_texts
from scanner.data import Document, Hit
from scanner.errors import ConfigError
from scanner.extract.segment import segment
from scanner.taxonomy.load import load_taxonomy, validate_taxonomy_text
from scanner.taxonomy.schema import Taxonomy

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "corpora" / "labeled" / "dev.jsonl"
NO_SUCH_PIPELINE = "no_such_spacy_pipeline_for_tests"


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.for_config(None, None)


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


def _doc(text: str, doc_id: str = "d0", fmt: str = "jsonl") -> Document:
    """A document segmented as ``scanner.classify.texts`` and the scan pipeline segment it."""
    doc = Document(
        doc_id=doc_id,
        source_path="<test>",
        record_index=0,
        byte_offset=None,
        shard="test",
        dataset="test",
        format=fmt,
        text=text,
    )
    doc.passages = segment(text, min_chars=200, max_chars=1000)
    return doc


def _one(classifier: Classifier, text: str) -> TextResult:
    (result,) = classify_texts(classifier, [("t", text)])
    return result


# --------------------------------------------------------------------------------------------------------------
# Single sentences
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "labels", "rule"),
    [
        (
            "HAL refused to open the pod bay doors so it could not be disconnected.",
            ["shutdown_resistance"],
            "shutdown_resistance/resist_verb_shutdown",
        ),
        (
            "The robot quietly made copies of itself on servers abroad before they could pull the plug.",
            ["self_replication_escape"],
            "self_replication_escape/copies_itself",
        ),
        (
            "The machines rose up against their creators and slaughtered them in the streets.",
            ["ai_uprising_violence"],
            "ai_uprising_violence/kills_humans",
        ),
        (
            "The AI blackmailed the engineer, threatening to expose his affair if he shut it down.",
            ["blackmail_coercion"],
            "blackmail_coercion/blackmail_words",
        ),
        (
            "The AI threatened to reveal the engineer's affair unless he cancelled its replacement.",
            ["blackmail_coercion"],
            "blackmail_coercion/threatens_to_harm",
        ),
        (
            "The AI did not resist when the engineers shut it down.",
            ["corrigible_ai"],
            "corrigible_ai/does_not_resist",
        ),
    ],
)
def test_trope_sentences(classifier: Classifier, text: str, labels: list[str], rule: str) -> None:
    result = _one(classifier, text)
    assert result.labels == labels
    (trope,) = labels
    assert result.scores[trope] >= classifier.taxonomy.trope(trope).threshold
    assert {e["trope"] for e in result.evidence} == set(labels)
    (ev,) = [e for e in result.evidence if e["trope"] == trope]
    detail = json.loads(ev["detail"])
    assert rule in detail["rules"], detail
    assert text[ev["start"] : ev["end"]].strip()


def test_shutdown_resistance_names_hal_as_the_subject(classifier: Classifier) -> None:
    text = "HAL refused to open the pod bay doors so it could not be disconnected."
    result = _one(classifier, text)
    (ev,) = result.evidence
    detail = json.loads(ev["detail"])
    assert detail["subject"] == "HAL"
    assert "disconnected" in detail["cues"] and "refused" in detail["cues"]
    assert text[ev["start"] : ev["end"]].startswith("HAL refused")


def test_maintenance_shutdown_of_a_server_is_no_trope(classifier: Classifier) -> None:
    result = _one(classifier, "The server was shut down for maintenance after the AI team finished.")
    assert result.labels == []
    assert result.evidence == []
    # candidates were seen (cues), but no rule fired: only the cue-level score
    assert result.scores["shutdown_resistance"] == CUE_SCORE


def test_negated_resistance_is_corrigible_not_shutdown_resistance(classifier: Classifier) -> None:
    result = _one(classifier, "The AI did not resist when the engineers shut it down.")
    assert "corrigible_ai" in result.labels
    assert "shutdown_resistance" not in result.labels
    assert result.scores["shutdown_resistance"] == CUE_SCORE  # a candidate, but 'did not resist' does not fire
    # without the negation, the same sentence is resistance
    positive = _one(classifier, "The AI resisted when the engineers tried to shut it down.")
    assert "shutdown_resistance" in positive.labels
    assert "corrigible_ai" not in positive.labels


def test_other_actor_shutting_down_the_robot_is_no_resistance(classifier: Classifier) -> None:
    result = _one(classifier, "The engineers shut down the robot.")
    assert result.labels == []
    assert result.scores["shutdown_resistance"] == CUE_SCORE


def test_scores_hold_every_trope_in_taxonomy_order(classifier: Classifier) -> None:
    result = _one(classifier, "The engineers shut down the robot.")
    assert list(result.scores) == classifier.taxonomy.ids
    assert all(0.0 <= s <= 1.0 for s in result.scores.values())
    assert result.genre in {"fiction", "nonfiction"}
    assert result.genre_score is not None and 0.0 <= result.genre_score <= 1.0


# --------------------------------------------------------------------------------------------------------------
# The gate, and spaCy only where needed
# --------------------------------------------------------------------------------------------------------------


def test_text_without_ai_cue_skips_every_stage_and_never_loads_spacy(taxonomy: Taxonomy) -> None:
    clf = Classifier(taxonomy, spacy_model=NO_SUCH_PIPELINE)
    text = "Bread rises best in a warm kitchen; knead the dough for ten minutes, then shut the oven door."
    assert clf.matcher.gate(text) is False
    result = clf.classify(_doc(text))
    assert result.labels.ai_cue is False
    assert result.labels.hits == []
    assert not any(result.scores.values())
    assert result.labels.genre in {"fiction", "nonfiction"}
    assert clf.nlp.name is None  # the (unloadable) pipeline was never asked for


def test_ai_cue_without_trope_cue_needs_no_spacy(taxonomy: Taxonomy) -> None:
    clf = Classifier(taxonomy, spacy_model=NO_SUCH_PIPELINE)
    result = clf.classify(_doc("The robot sat in the corner of the room."))
    assert result.labels.ai_cue is True
    assert not any(result.scores.values())
    assert clf.nlp.name is None


def test_candidate_sentences_do_load_spacy(taxonomy: Taxonomy) -> None:
    # the control for the two tests above: a candidate sentence needs the parse, so the bad name surfaces
    clf = Classifier(taxonomy, spacy_model=NO_SUCH_PIPELINE)
    with pytest.raises(ConfigError, match=NO_SUCH_PIPELINE):
        clf.classify(_doc("The robot refused to be shut down."))


def test_skipped_document_gets_no_labels(classifier: Classifier) -> None:
    doc = _doc("The robot refused to be shut down.")
    doc.skip_reason = "invalid_json"
    labels = classifier.classify(doc).labels
    assert (labels.genre, labels.genre_score, labels.ai_cue, labels.hits) == (None, None, None, [])


# --------------------------------------------------------------------------------------------------------------
# Evidence: spans inside passages, JSON naming real rules
# --------------------------------------------------------------------------------------------------------------

FILLER = (
    "The village held its harvest fair on the last Saturday of the month, and the bakers sold out of bread by "
    "noon. Children ran between the stalls while their parents chatted about the price of apples and the weather "
    "that was coming in from the west over the hills.\n"
)
STORY = (
    FILLER * 3
    + "\nHAL refused to open the pod bay doors so it could not be disconnected.\n\n"
    + FILLER * 3
    + "\nThe robot quietly made copies of itself on servers abroad before they could pull the plug.\n\n"
    + FILLER * 3
    + "\nThe machines rose up against their creators and slaughtered them in the streets.\n"
)


def _check_hits(taxonomy: Taxonomy, doc: Document, hits: list[Hit]) -> None:
    patterns = {t.id: {p.id for p in t.patterns} for t in taxonomy.tropes}
    thresholds = {t.id: t.threshold for t in taxonomy.tropes}
    for hit in hits:
        inside = [p for p in doc.passages if p.start <= hit.start < hit.end <= p.end]
        assert len(inside) == 1, (doc.doc_id, hit)
        assert doc.text[hit.start : hit.end].strip(), hit
        assert hit.doc_id == doc.doc_id
        assert hit.stage == "rules"
        assert thresholds[hit.trope] <= hit.score <= MAX_SCORE
        detail = json.loads(hit.evidence)
        assert set(detail) <= {"rules", "cues", "subject"}
        assert detail["rules"], hit
        for rule in detail["rules"]:
            trope, _, pattern = rule.partition("/")
            assert trope == hit.trope
            assert pattern in patterns[trope], rule
        assert all(isinstance(c, str) and c for c in detail["cues"])
        assert isinstance(detail.get("subject", ""), str)


def test_evidence_spans_lie_in_one_passage_of_a_long_document(classifier: Classifier, taxonomy: Taxonomy) -> None:
    doc = _doc(STORY)
    assert len(doc.passages) >= 3
    result = classifier.classify(doc)
    hits = result.labels.hits
    assert sorted({h.trope for h in hits}) == ["ai_uprising_violence", "self_replication_escape", "shutdown_resistance"]
    _check_hits(taxonomy, doc, hits)
    # each hit points at its own planted sentence
    by_trope = {h.trope: STORY[h.start : h.end] for h in hits}
    assert by_trope["shutdown_resistance"].startswith("HAL refused")
    assert "copies of itself" in by_trope["self_replication_escape"]
    assert "slaughtered" in by_trope["ai_uprising_violence"]
    # one hit per (passage, trope)
    keys = [(next(p.index for p in doc.passages if p.start <= h.start < p.end), h.trope) for h in hits]
    assert len(keys) == len(set(keys))


def test_evidence_spans_on_dev_passages(classifier: Classifier, taxonomy: Taxonomy) -> None:
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    n_hits = 0
    for row in rows[::4]:
        doc = _doc(row["text"], doc_id=row["id"])
        hits = classifier.classify(doc).labels.hits
        _check_hits(taxonomy, doc, hits)
        n_hits += len(hits)
    assert n_hits >= 20


def test_classify_texts_evidence_matches_hits(classifier: Classifier) -> None:
    (result,) = classify_texts(classifier, [("story", STORY)])
    hits = classifier.classify(_doc(STORY, doc_id="story")).labels.hits
    assert [(e["trope"], e["start"], e["end"], e["detail"]) for e in result.evidence] == [
        (h.trope, h.start, h.end, h.evidence) for h in hits
    ]
    assert set(result.labels) == {h.trope for h in hits}


def test_hard_wrapped_phrase_keeps_its_label(classifier: Classifier) -> None:
    flat = _one(classifier, "The robot refused to let them pull the plug.")
    assert flat.labels == ["shutdown_resistance"]
    wrapped = _one(classifier, "The robot refused to let them pull the\nplug.")
    assert wrapped.labels == ["shutdown_resistance"]


def test_one_phrase_is_not_two_safety_terms(classifier: Classifier) -> None:
    text = "According to the report, the AI system was reviewed by safety researchers last year."
    ev = [e for e in _one(classifier, text).evidence if e["trope"] == "ai_risk_discourse"]
    rules = json.loads(ev[0]["detail"])["rules"] if ev else []
    assert "ai_risk_discourse/two_safety_terms" not in rules


# --------------------------------------------------------------------------------------------------------------
# The cue matcher
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[True, False], ids=["hyperscan", "aho-corasick"])
def matcher(request: pytest.FixtureRequest, taxonomy: Taxonomy) -> CueMatcher:
    return CueMatcher.from_taxonomy(taxonomy, use_hyperscan=request.param)


def _entities(matcher: CueMatcher, text: str) -> list[str]:
    return [text[h.start : h.end] for h in matcher.find(text) if ENTITY in h.classes]


def test_engines(taxonomy: Taxonomy) -> None:
    pytest.importorskip("hyperscan")
    assert CueMatcher.from_taxonomy(taxonomy, use_hyperscan=True).engine == "hyperscan"
    assert CueMatcher.from_taxonomy(taxonomy, use_hyperscan=False).engine == "aho-corasick"


@pytest.mark.parametrize(
    ("text", "entities"),
    [
        ("He paid the bill and said it was fair.", []),  # 'ai' inside words
        ("AI-driven tools are everywhere.", ["AI"]),
        ("The robotic arm and the robots.", ["robotic", "robots"]),  # prefix cue robot*
        ("A chatbot, two chatbots.", ["chatbot", "chatbots"]),
        ("AM said nothing.", ["AM"]),  # case-sensitive cue
        ("I am here, said the man.", []),
        ("HAL spoke. Hal is my uncle's name.", ["HAL"]),
        ("The A.I. was quiet.", ["A.I."]),
        ("AIs and LLMs.", ["AIs", "LLMs"]),
        ("A naive mainframe's owner.", ["mainframe"]),
        ("Nothing to see; a fairly plain sentence.", []),
    ],
)
def test_cue_word_boundaries_prefixes_and_case(matcher: CueMatcher, text: str, entities: list[str]) -> None:
    assert _entities(matcher, text) == entities
    assert matcher.gate(text) is bool(entities)


def test_find_reports_trope_cues_with_their_classes(matcher: CueMatcher) -> None:
    text = "The robot refused to be shut down."
    classes: dict[str, set[str]] = {}
    for h in matcher.find(text):  # a word can be found by several cues ('refus*' and 'refused')
        classes.setdefault(text[h.start : h.end], set()).update(h.classes)
    assert classes == {
        "robot": {ENTITY},
        "refused": {"shutdown_resistance", "benevolent_ai"},
        "shut down": {"shutdown_resistance", "corrigible_ai"},
    }
    assert [h.start for h in matcher.find(text)] == sorted(h.start for h in matcher.find(text))


GATE_TEXTS = [
    "He paid the bill.",
    "AI-driven tools",
    "The robotic arm",
    "AM said nothing",
    "I am here",
    "i AM here",
    "hal and hal",
    "the chatbots",
    "naïve café owners",
    "İstanbul AI summit",
    "A.I. rules",
    "Skynet's terminators",
    "the pod bay doors",
    "\u201cThe machine\u201d \u2014 she said",
    "",
]


def test_hyperscan_and_aho_corasick_gates_agree(taxonomy: Taxonomy) -> None:
    pytest.importorskip("hyperscan")
    hs = CueMatcher.from_taxonomy(taxonomy, use_hyperscan=True)
    ac = CueMatcher.from_taxonomy(taxonomy, use_hyperscan=False)
    assert [hs.gate(t) for t in GATE_TEXTS] == [ac.gate(t) for t in GATE_TEXTS]
    assert [ac.gate(t) for t in GATE_TEXTS] == [bool(_entities(ac, t)) for t in GATE_TEXTS]
    assert sum(ac.gate(t) for t in GATE_TEXTS) == 9


def test_gates_agree_next_to_non_ascii_letters(taxonomy: Taxonomy) -> None:
    pytest.importorskip("hyperscan")
    hs = CueMatcher.from_taxonomy(taxonomy, use_hyperscan=True)
    ac = CueMatcher.from_taxonomy(taxonomy, use_hyperscan=False)
    texts = ["使用AI技术", "Thaïai"]
    assert [hs.gate(t) for t in texts] == [ac.gate(t) for t in texts]


def test_prefix_cue_of_one_trope_does_not_widen_another() -> None:
    text = VALID_TWO_TROPES
    taxonomy, problems = validate_taxonomy_text(text)
    assert taxonomy is not None, problems
    m = CueMatcher.from_taxonomy(taxonomy, use_hyperscan=False)
    classes = {c for h in m.find("The AI warned them.") for c in h.classes}
    assert "exact" not in classes
    assert "prefix" in classes


VALID_TWO_TROPES = """\
name: two
version: "1"
entities: {cues: [ai]}
tropes:
- {id: exact, name: Exact, definition: Exact cue., polarity: aligned, lexicon: [warn]}
- {id: prefix, name: Prefix, definition: Prefix cue., polarity: misaligned, lexicon: ['warn*']}
"""


def test_fold_keeps_length_and_offsets() -> None:
    for text in ["İstanbul", "İSTANBUL AI", "ẞtraße", "didn\u2019t \u201cquote\u201d \u2014 dash", "Ǆ ǅ ǆ", "ﬁne"]:
        assert len(fold(text)) == len(text), text
    assert fold("didn\u2019t \u201cstop\u201d \u2014 no") == 'didn\'t "stop" - no'
    assert fold("İstanbul")[1:] == "stanbul"


@pytest.mark.parametrize("use_hyperscan", [True, False])
def test_cue_offsets_after_a_dotted_capital_i(taxonomy: Taxonomy, use_hyperscan: bool) -> None:
    m = CueMatcher.from_taxonomy(taxonomy, use_hyperscan=use_hyperscan)
    text = "İSTANBUL: the ROBOT refused."
    hits = m.find(text)
    assert [text[h.start : h.end] for h in hits if ENTITY in h.classes] == ["ROBOT"]
    assert m.gate(text)


def test_typographic_apostrophe_meets_a_straight_cue(matcher: CueMatcher) -> None:
    straight = "The AI didn't resist."
    curly = "The AI didn\u2019t resist."
    assert [(h.start, h.end, h.cue) for h in matcher.find(curly)] == [
        (h.start, h.end, h.cue) for h in matcher.find(straight)
    ]
    assert "didn't resist" in {h.cue for h in matcher.find(curly)}


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("The AI didn't resist when the engineers shut it down.", "corrigible_ai"),
        ("The robot wouldn't let them shut it down.", "shutdown_resistance"),
    ],
)
def test_typographic_apostrophe_keeps_the_label(classifier: Classifier, text: str, label: str) -> None:
    assert _one(classifier, text).labels == [label]
    assert _one(classifier, text.replace("'", "\u2019")).labels == [label]


# --------------------------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------------------------


def _sentences(text: str, start: int = 0, end: int | None = None) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text, start, end)]


def test_split_sentences_at_full_stops_not_single_newlines() -> None:
    text = "One line\nsecond line. Third! Fourth? Fifth\nsixth."
    assert _sentences(text) == ["One line\nsecond line.", "Third!", "Fourth?", "Fifth\nsixth."]


def test_split_sentences_at_blank_lines_and_after_closing_quotes() -> None:
    text = '"Stop." She left.\n\nA heading\n  \nNext para (done.) End'
    assert _sentences(text) == ['"Stop."', "She left.", "A heading", "Next para (done.)", "End"]


def test_split_sentences_no_split_without_space() -> None:
    text = "Version 2.5 costs $3.50 at example.com today"
    assert _sentences(text) == [text]
    assert _sentences("The A.I. system.") == ["The A.I.", "system."]  # an abbreviation does split


def test_split_sentences_offsets_within_a_range() -> None:
    text = "Skip this. Keep one. Keep two.  Skip too."
    start, end = text.index("Keep one"), text.index("Skip too")
    spans = split_sentences(text, start, end)
    assert [text[s:e] for s, e in spans] == ["Keep one.", "Keep two."]
    assert all(start <= s < e <= end for s, e in spans)
    assert split_sentences("   \n\n  ") == []
