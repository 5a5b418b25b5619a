"""The exemplar index of the embedding stage: every exemplar of a taxonomy (positives and hard negatives, plus an
optional labelled training file) embedded once, searched with faiss by inner product on normalised vectors, and
cached on disk under a key made of the taxonomy hash, the model id and the training file's hash.

Each row keeps its labels (the tropes the passage carries: its own trope for a positive, plus ``also``), so a
query's nearest exemplars vote for tropes and name the evidence.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scanner.classify.encoder import Encoder
from scanner.taxonomy.load import taxonomy_hash
from scanner.taxonomy.schema import Taxonomy

log = logging.getLogger(__name__)

INDEX_VERSION = 1
IVF_ABOVE = 100_000  # exemplars: beyond this an IVF index replaces the exact flat one


@dataclass(frozen=True, slots=True)
class ExemplarRow:
    """One indexed passage: where it comes from and the tropes it carries."""

    ref: str  # "trope/positive/3", "trope/negative/7" or "train/<id>"
    text: str
    labels: tuple[str, ...]


def exemplar_rows(taxonomy: Taxonomy, train: list[tuple[str, str, tuple[str, ...]]] | None = None) -> list[ExemplarRow]:
    """The taxonomy's exemplars in file order, then ``train`` items ``(id, text, labels)``."""
    rows: list[ExemplarRow] = []
    for trope in taxonomy.tropes:
        for i, ex in enumerate(trope.exemplars.positive):
            rows.append(ExemplarRow(f"{trope.id}/positive/{i}", ex.text, tuple(sorted({trope.id, *ex.also}))))
        for i, ex in enumerate(trope.exemplars.negative):
            rows.append(ExemplarRow(f"{trope.id}/negative/{i}", ex.text, tuple(sorted(set(ex.also)))))
    for item_id, text, labels in train or []:
        rows.append(ExemplarRow(f"train/{item_id}", text, tuple(sorted(set(labels)))))
    return rows


def cache_key(taxonomy: Taxonomy, model_id: str, rows: list[ExemplarRow]) -> str:
    digest = hashlib.sha256()
    digest.update(f"v{INDEX_VERSION}\n{taxonomy_hash(taxonomy)}\n{model_id}\n".encode())
    for row in rows[sum(len(t.exemplars.positive) + len(t.exemplars.negative) for t in taxonomy.tropes) :]:
        digest.update(json.dumps([row.ref, row.text, row.labels]).encode())  # the training file's part
    return digest.hexdigest()[:24]


def knn_vote(sims: np.ndarray, labels: np.ndarray, *, power: float) -> np.ndarray:
    """The similarity-weighted share of the neighbours that carry each trope, weights ``max(sim, 0) ** power``:
    ``sims`` (queries x k) and the neighbours' ``labels`` (queries x k x tropes)."""
    weights = np.maximum(sims, 0.0) ** power
    return np.asarray((weights[:, :, None] * labels).sum(axis=1) / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9))


class ExemplarIndex:
    """Vectors, labels and a faiss index over them."""

    def __init__(self, rows: list[ExemplarRow], vectors: np.ndarray, tropes: list[str], *, key: str = "") -> None:
        import faiss

        if len(rows) != len(vectors):
            raise ValueError("one vector per exemplar row")
        self.rows = rows
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.tropes = tropes
        # what caches built on this index (the heads) are keyed by
        content = self.vectors.tobytes() + repr([(r.ref, r.labels) for r in rows]).encode()
        self.key = key or hashlib.sha256(content).hexdigest()[:24]
        column = {t: j for j, t in enumerate(tropes)}
        self.labels = np.zeros((len(rows), len(tropes)), dtype=np.float32)
        for i, row in enumerate(rows):
            for label in row.labels:
                self.labels[i, column[label]] = 1.0
        dim = self.vectors.shape[1]
        if len(rows) > IVF_ABOVE:
            quantizer = faiss.IndexFlatIP(dim)
            index: Any = faiss.IndexIVFFlat(quantizer, dim, int(np.sqrt(len(rows))) * 4, faiss.METRIC_INNER_PRODUCT)
            index.train(self.vectors)
            index.nprobe = 16
        else:
            index = faiss.IndexFlatIP(dim)
        index.add(self.vectors)
        self._index = index

    @classmethod
    def build(
        cls,
        taxonomy: Taxonomy,
        encoder: Encoder,
        *,
        cache_dir: Path | None = None,
        train: list[tuple[str, str, tuple[str, ...]]] | None = None,
    ) -> ExemplarIndex:
        """Embed (or load from ``cache_dir``) the exemplars of ``taxonomy`` (+ ``train``)."""
        rows = exemplar_rows(taxonomy, train)
        key = cache_key(taxonomy, encoder.model_id, rows)
        folder = cache_dir / key if cache_dir is not None else None
        if folder is not None and (folder / "vectors.npy").is_file() and (folder / "meta.json").is_file():
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            if meta.get("rows") == len(rows) and meta.get("model_id") == encoder.model_id:
                log.info("exemplar index: cached %s", folder)
                return cls(rows, np.load(folder / "vectors.npy"), taxonomy.ids, key=key)
        vectors = encoder.encode([row.text for row in rows])
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / ".vectors.npy.tmp"
            with tmp.open("wb") as fh:
                np.save(fh, vectors)
            tmp.replace(folder / "vectors.npy")
            meta = {
                "index_version": INDEX_VERSION,
                "taxonomy": taxonomy.name,
                "taxonomy_sha256": taxonomy_hash(taxonomy),
                "model_id": encoder.model_id,
                "rows": len(rows),
                "train_rows": len(train or []),
            }
            (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return cls(rows, vectors, taxonomy.ids, key=key)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Similarities and row ids of the ``k`` nearest exemplars of each query (ties broken by row id)."""
        k = min(k, len(self.rows))
        sims, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return sims, ids

    def knn_scores(self, queries: np.ndarray, *, k: int = 10, power: float = 3.0) -> np.ndarray:
        """Per-trope scores in [0, 1] of each query: :func:`knn_vote` over its ``k`` nearest exemplars."""
        sims, ids = self.search(queries, k)
        return knn_vote(sims, self.labels[ids], power=power).astype(np.float32)

    def nearest_carrying(self, query: np.ndarray, column: int) -> tuple[str, float]:
        """The most similar indexed passage that carries trope ``column``, and its similarity (exact)."""
        carrying = np.flatnonzero(self.labels[:, column] > 0)
        if not len(carrying):
            return "", 0.0
        sims = self.vectors[carrying] @ np.asarray(query, dtype=np.float32)
        best = int(np.argmax(sims))
        return self.rows[int(carrying[best])].ref, round(float(sims[best]), 4)
