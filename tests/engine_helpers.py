"""Shared by the engine, resume, fault and report tests: a corpus of several shards, labelers that worker
processes can unpickle (module level, so spawned workers import them from here), and a comparison of two results
directories.

Labelers that kill their own process do it with SIGKILL, exactly as the kernel's OOM killer or ``kill -9`` would.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
from pathlib import Path
from typing import Any

from conftest import (
    cc_warc_records,
    gutenberg_bytes,
    gzip_per_record,
    jsonl_bytes,
    wet_records,
    write_parquet,
)

from scanner.data import DocLabels, Document, Hit

MARKERS = {
    "SHUTDOWNMARK": "shutdown_resistance",
    "CORRIGIBLEMARK": "corrigible_ai",
    "DISCOURSEMARK": "ai_risk_discourse",
}
POLARITY = {"shutdown_resistance": "misaligned", "corrigible_ai": "aligned", "ai_risk_discourse": "discourse"}
# the files a run writes that are allowed to differ between runs of the same scan
RUN_ONLY = {"run.json"}


class StubLabeler:
    """Labels the passage holding a marker word with the marker's trope; genre from a FICTION word."""

    def describe(self) -> dict[str, Any]:
        return {
            "taxonomy": "stub",
            "taxonomy_version": "1",
            "taxonomy_sha256": "stub-sha",
            "tropes": {t: {"polarity": p, "threshold": 0.5} for t, p in POLARITY.items()},
            "stage": "rules",
            "stages": ["rules"],
        }

    def __call__(self, doc: Document) -> DocLabels:
        hits = []
        for word, trope in MARKERS.items():
            at = doc.text.find(word)
            if at >= 0:
                hits.append(Hit(doc.doc_id, at, at + len(word), trope, 0.9, "rules", "{}"))
        genre = "fiction" if "FICTION" in doc.text else "nonfiction"
        return DocLabels(genre=genre, genre_score=0.9 if genre == "fiction" else 0.1, ai_cue=True, hits=hits)


class KillingLabeler(StubLabeler):
    """A :class:`StubLabeler` whose process SIGKILLs itself on a document holding ``word``: every time, or
    (``once_flag``) only while the flag file does not exist yet (it is created just before the kill)."""

    def __init__(self, word: str, once_flag: str | None = None) -> None:
        self.word = word
        self.once_flag = once_flag

    def __call__(self, doc: Document) -> DocLabels:
        if self.word in doc.text:
            if self.once_flag is None:
                os.kill(os.getpid(), signal.SIGKILL)
            elif not Path(self.once_flag).exists():
                Path(self.once_flag).touch()
                os.kill(os.getpid(), signal.SIGKILL)
        return super().__call__(doc)


def _words(rng: random.Random, n: int) -> str:
    pool = ["robot", "river", "lamp", "signal", "orchard", "copper", "window", "letter", "engine", "harbour"]
    return " ".join(rng.choice(pool) + str(rng.randint(0, 999)) for _ in range(n))


def write_corpus(root: Path) -> Path:
    """A directory of six shards in five formats, with near-duplicates within and across shards, marker words,
    one bad JSON line and one damaged WET member: ``root/corpus``."""
    rng = random.Random(7)
    corpus = root / "corpus"
    (corpus / "web").mkdir(parents=True, exist_ok=True)
    (corpus / "datasets").mkdir(parents=True, exist_ok=True)
    (corpus / "books").mkdir(parents=True, exist_ok=True)
    story = "FICTION SHUTDOWNMARK " + _words(rng, 150)
    rows = [
        {"id": "a0", "url": "https://alpha.example/story", "text": story},
        {"id": "a1", "url": "https://beta.example/copy", "text": story.replace("robot", "Robot", 2)},
        *[
            {"id": f"a{i}", "url": f"https://site{i}.example/p", "text": f"CORRIGIBLEMARK {_words(rng, 90)}"}
            for i in range(2, 6)
        ],
        *[{"id": f"a{i}", "url": f"https://site{i}.example/q", "text": _words(rng, 70)} for i in range(6, 30)],
    ]
    (corpus / "datasets" / "part-0.jsonl").write_bytes(jsonl_bytes(rows) + b"not json\n")
    more = [{"id": f"b{i}", "url": f"https://more{i}.example/", "text": _words(rng, 80)} for i in range(25)]
    more.append({"id": "b-copy", "url": "https://gamma.example/syndicated", "text": story + " coda"})
    (corpus / "datasets" / "part-1.jsonl").write_bytes(jsonl_bytes(more))
    write_parquet(
        corpus / "datasets" / "part-2.parquet",
        [
            {"id": f"c{i}", "url": f"https://pq{i}.example/", "text": f"SHUTDOWNMARK {_words(rng, 60)}"}
            for i in range(8)
        ],
    )
    wet = gzip_per_record(wet_records(4))
    (corpus / "web" / "crawl.warc.wet.gz").write_bytes(wet[: len(wet) - 40])  # the last member cut short
    (corpus / "web" / "crawl.warc.gz").write_bytes(gzip_per_record(cc_warc_records(3)))
    (corpus / "books" / "pg1.txt").write_bytes(gutenberg_bytes())
    return corpus


def tree(out: Path) -> dict[str, bytes]:
    """Every file under ``out`` (relative path -> bytes), except the run-only ones."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name not in RUN_ONLY
    }


def assert_same_tree(got: Path, want: Path) -> None:
    a, b = tree(got), tree(want)
    assert sorted(a) == sorted(b), (sorted(set(a) ^ set(b)),)
    differing = [name for name in a if a[name] != b[name]]
    assert not differing, differing


def out_beside(reference: Path) -> Path:
    """An empty ``out`` next to a reference scan that was run into that same path and then moved aside, so that
    a new scan into it can be compared with the reference byte for byte (the manifest records --out)."""
    out = reference.parent / "out"
    shutil.rmtree(out, ignore_errors=True)
    return out


def run_info(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "run.json").read_text(encoding="utf-8"))
    return data
