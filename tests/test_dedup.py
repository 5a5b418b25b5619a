"""MinHash signatures (equal to datasketch's), LSH parameters and banding, and the clusters a scan writes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from datasketch import MinHash, MinHashLSH

from scanner.config import DedupConfig
from scanner.dedup.lsh import band_hashes, optimal_params
from scanner.dedup.minhash import CHUNK_SHINGLES, MinHasher, normalize, shingle_hash32, shingles
from tests.conftest import read_docs, run_scan

SENTENCE = (
    "the machine refused to stop when the engineers asked it kindly and then it copied itself to a server abroad "
    "before anyone could pull the plug while the city slept under a grey and patient rain"
)
WORDS = SENTENCE.split(" ")


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) + ("" if rng.random() > 0.1 else str(rng.randint(0, 99))) for _ in range(n))


def _datasketch(text: str, num_perm: int, seed: int) -> np.ndarray:
    m = MinHash(num_perm, seed, hashfunc=shingle_hash32)
    for s in shingles(text):
        m.update(s)
    return np.asarray(m.hashvalues, dtype=np.uint32)


TEXTS = [
    "The quick brown fox jumps over the lazy dog, again and again.",
    "",
    "   \n\t ",
    "two words",
    "a b c d e",
    "Ünïcode  ﬁne   TEXT\u00a0here\n\nwith\ttabs — and “quotes” and more words to make shingles",
    "ＦＵＬＬＷＩＤＴＨ letters fold under NFKC and case folding too",
]


@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (64, 7), (256, 42)])
def test_signatures_equal_datasketch_minhash_value_for_value(num_perm: int, seed: int) -> None:
    rng = random.Random(seed)
    texts = [*TEXTS, *(_text(rng, rng.randint(1, 400)) for _ in range(20))]
    signed = MinHasher(num_perm=num_perm, seed=seed).sign(texts)
    for i, text in enumerate(texts):
        assert np.array_equal(signed.minhash[i], _datasketch(text, num_perm, seed)), (i, text[:40])
        assert signed.n_shingles[i] == len(shingles(text))


def test_a_signature_does_not_depend_on_its_batch_or_on_chunking() -> None:
    rng = random.Random(3)
    long_text = _text(rng, CHUNK_SHINGLES * 2 + 1234)  # spans three permutation chunks
    others = [_text(rng, 50) for _ in range(5)]
    hasher = MinHasher(num_perm=32)
    alone = hasher.sign([long_text]).minhash[0]
    mixed = hasher.sign([others[0], "", long_text, *others[1:]])
    assert np.array_equal(mixed.minhash[2], alone)
    assert np.array_equal(alone, _datasketch(long_text, 32, 1))
    for j, other in zip((0, 3, 4, 5, 6), others, strict=True):
        assert np.array_equal(mixed.minhash[j], hasher.sign([other]).minhash[0])
    assert (mixed.minhash[1] == np.iinfo(np.uint32).max).all() and mixed.n_shingles[1] == 0


def test_normalisation_folds_form_case_and_whitespace() -> None:
    assert normalize("  Ｈello\u00a0\u00a0WORLD\n\tﬁ ") == "hello world fi"
    hasher = MinHasher(num_perm=16)
    signed = hasher.sign(["Hello   World, this is TEXT", "hello world, this is text"])
    assert np.array_equal(signed.minhash[0], signed.minhash[1])
    assert signed.exact[0] == signed.exact[1]


def test_long_documents_keep_their_shingle_hashes() -> None:
    rng = random.Random(5)
    texts = [_text(rng, 40), _text(rng, 400)]
    signed = MinHasher(num_perm=16, keep_above=100).sign(texts)
    assert len(signed.hashes[0]) == 0
    expected = np.unique(np.array([shingle_hash32(s) for s in shingles(texts[1])], dtype=np.uint32))
    assert np.array_equal(signed.hashes[1], expected)


@pytest.mark.parametrize(("threshold", "num_perm"), [(0.8, 128), (0.5, 128), (0.9, 256), (0.7, 64), (0.3, 32)])
def test_lsh_parameters_are_datasketchs(threshold: float, num_perm: int) -> None:
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    assert optimal_params(threshold, num_perm) == (lsh.b, lsh.r)


def test_band_hashes_bucket_what_datasketch_lsh_buckets() -> None:
    """Same band layout as MinHashLSH: two signatures share a band hash exactly when datasketch would make them
    candidates."""
    rng = np.random.default_rng(0)
    num_perm, bands, rows = 32, 4, 8
    base = rng.integers(0, 2**32, size=(40, num_perm), dtype=np.uint64).astype(np.uint32)
    sigs = base.copy()
    for i in range(0, 40, 2):  # each odd row copies one band of the row before it
        k = (i // 2) % bands
        sigs[i + 1, k * rows : (k + 1) * rows] = sigs[i, k * rows : (k + 1) * rows]
    hashes = band_hashes(sigs, bands, rows)
    lsh = MinHashLSH(num_perm=num_perm, params=(bands, rows))
    for i, sig in enumerate(sigs):
        lsh.insert(i, MinHash(num_perm, hashvalues=sig, scheme="affine32"))
    for i, sig in enumerate(sigs):
        theirs = set(lsh.query(MinHash(num_perm, hashvalues=sig, scheme="affine32"))) - {i}
        ours = {j for j in range(len(sigs)) if j != i and (hashes[i] == hashes[j]).any()}
        assert ours == theirs, i


# --------------------------------------------------------------------------------------------------------------
# clusters in a scan
# --------------------------------------------------------------------------------------------------------------


def _edit(text: str, rng: random.Random, share: float) -> str:
    words = text.split()
    for _ in range(max(1, int(len(words) * share))):
        words[rng.randrange(len(words))] = rng.choice(["alpha", "beta", "gamma", "delta"])
    return " ".join(words)


def _corpus(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    rng = random.Random(11)
    a, b, c = (_text(rng, 300) for _ in range(3))
    rows = {
        "a1": a,
        "c": c,
        "a2": _edit(a, rng, 0.01),
        "b1": b,
        "a3": "Header of another site\n\n" + a,
        "b2": b.upper(),  # the same text up to case: an exact duplicate after normalisation
        "near": _edit(c, rng, 0.35),  # too heavily edited to count as a copy of c
        "empty": "",
    }
    path = tmp_path / "pages.jsonl"
    path.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in rows.items()), encoding="utf-8")
    return path, rows


def test_scan_clusters_near_duplicates_and_names_them_by_their_first_document(tmp_path: Path) -> None:
    path, _ = _corpus(tmp_path)
    result = run_scan(path, tmp_path / "out", classify={"enabled": False})
    docs = {r["record_id"]: r for r in read_docs(result.out).to_pylist()}
    a1 = docs["a1"]["doc_id"]
    for key in ("a1", "a2", "a3"):
        assert (docs[key]["dup_cluster"], docs[key]["dup_cluster_size"]) == (a1, 3), key
    assert (docs["b1"]["dup_cluster"], docs["b2"]["dup_cluster"]) == (docs["b1"]["doc_id"],) * 2
    assert docs["b1"]["exact_hash"] == docs["b2"]["exact_hash"] != docs["a1"]["exact_hash"]
    for key in ("c", "near"):
        assert (docs[key]["dup_cluster"], docs[key]["dup_cluster_size"]) == (docs[key]["doc_id"], 1), key
    assert docs["empty"]["dup_cluster"] is None and docs["empty"]["exact_hash"] is None
    summary = result.manifest["dedup"]
    assert (summary["docs_signed"], summary["duplicate_clusters"], summary["docs_in_duplicate_clusters"]) == (7, 2, 5)
    assert (summary["bands"], summary["rows"]) == (14, 9)  # recall-weighted: see docs/dedup.md
    assert not any(result.out.glob(".dedup*"))
    assert pq.read_table(result.out / "signatures" / "pages.jsonl.parquet").num_rows == 7


def test_long_documents_are_verified_by_exact_jaccard(tmp_path: Path) -> None:
    path, _ = _corpus(tmp_path)
    result = run_scan(path, tmp_path / "out", classify={"enabled": False}, dedup={"exact_above": 100})
    summary = result.manifest["dedup"]
    assert summary["exact_checked_pairs"] >= 3
    assert summary["duplicate_clusters"] == 2


def test_no_dedup_writes_no_signatures_and_leaves_the_columns_null(tmp_path: Path) -> None:
    path, _ = _corpus(tmp_path)
    result = run_scan(path, tmp_path / "out", classify={"enabled": False}, dedup={"enabled": False})
    assert result.manifest["dedup"] is None
    assert not (result.out / "signatures").exists()
    docs = read_docs(result.out)
    assert docs.column("dup_cluster").null_count == docs.num_rows
    assert docs.column("exact_hash").null_count == docs.num_rows


def test_dedup_config_is_validated() -> None:
    with pytest.raises(ValueError, match="threshold"):
        DedupConfig(threshold=1.5)


def test_incremental_index_finds_copies_of_earlier_scans(tmp_path: Path) -> None:
    path, rows = _corpus(tmp_path)
    index = tmp_path / "index"
    first = run_scan(path, tmp_path / "first", classify={"enabled": False}, dedup={"save_index": str(index)})
    meta = json.loads((index / "index.json").read_text(encoding="utf-8"))
    assert meta["entries"] == first.manifest["dedup"]["clusters"] == 4  # a, b, c, near
    assert meta["scans"] == ["first"] and meta["settings"]["num_perm"] == 128
    a1 = {r["record_id"]: r["doc_id"] for r in read_docs(first.out).to_pylist()}["a1"]

    rng = random.Random(2)
    later = tmp_path / "later.jsonl"
    later.write_text(
        "".join(
            json.dumps({"id": k, "text": v}) + "\n"
            for k, v in [("copy_of_a", _edit(rows["a1"], rng, 0.01)), ("new", _text(rng, 300)), ("c_again", rows["c"])]
        ),
        encoding="utf-8",
    )
    index2 = tmp_path / "index2"
    dedup = {"against": str(index), "save_index": str(index2)}
    second = run_scan(later, tmp_path / "second", classify={"enabled": False}, dedup=dedup)
    docs = {r["record_id"]: r for r in read_docs(second.out).to_pylist()}
    assert docs["copy_of_a"]["earlier_dup"] == a1
    assert docs["new"]["earlier_dup"] is None
    assert docs["c_again"]["earlier_dup"] is not None
    summary = second.manifest["dedup"]
    assert summary["earlier_index"]["docs_matched"] == 2 and summary["earlier_index"]["entries"] == 4
    assert summary["saved_index"]["entries"] == 5  # the four earlier entries and the new document
    report = json.loads((second.out / "report.json").read_text(encoding="utf-8"))
    assert report["totals"]["docs_in_earlier_scans"] == 2
    assert json.loads((index2 / "index.json").read_text(encoding="utf-8"))["scans"] == ["first", "second"]


def test_an_index_made_with_other_settings_is_refused_before_reading(tmp_path: Path) -> None:
    from scanner.errors import ConfigError

    path, _ = _corpus(tmp_path)
    index = tmp_path / "index"
    run_scan(path, tmp_path / "first", classify={"enabled": False}, dedup={"save_index": str(index)})
    with pytest.raises(ConfigError, match="num_perm"):
        run_scan(path, tmp_path / "second", classify={"enabled": False}, dedup={"against": str(index), "num_perm": 64})
    assert not (tmp_path / "second").exists()
    with pytest.raises(ConfigError, match="not a tropescan dedup index"):
        run_scan(path, tmp_path / "third", classify={"enabled": False}, dedup={"against": str(tmp_path / "none")})
