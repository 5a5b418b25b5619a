"""Fit the genre model's weights on the taxonomy's exemplars and write scanner/classify/genre_weights.py.

The exemplars carry a register (news, forum, fiction_narration, screenplay, ...), which maps to fiction or
non-fiction; they are the training data. The dev set (corpora/labeled/) is never used here: it measures the
result (docs/quality.md). L2-regularised logistic regression by Newton's method: deterministic.

    python tools/fit_genre.py [--taxonomy taxonomies/ai_self_preservation.yaml]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from scanner.classify.genre import FEATURES, features
from scanner.taxonomy.load import load_taxonomy, taxonomy_hash

FICTION_REGISTERS = {"fiction_narration", "fiction_dialogue", "game_lore", "screenplay", "childrens", "childrens_story"}
NONFICTION_REGISTERS = {"news", "technical", "encyclopedia", "forum", "review", "transcript", "marketing"}
BOOK_PRIOR = 1.5  # not fitted (no books among the exemplars): books are mostly fiction, text can outweigh it
L2 = 1.0
OUT = Path(__file__).resolve().parents[1] / "scanner" / "classify" / "genre_weights.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taxonomy", default=None)
    args = parser.parse_args()
    taxonomy = load_taxonomy(args.taxonomy)
    xs: list[list[float]] = []
    ys: list[float] = []
    for trope in taxonomy.tropes:
        for ex in [*trope.exemplars.positive, *trope.exemplars.negative]:
            if ex.register_ in FICTION_REGISTERS:
                y = 1.0
            elif ex.register_ in NONFICTION_REGISTERS:
                y = 0.0
            else:
                continue
            f = features(ex.text)
            xs.append([1.0, *(f[k] for k in FEATURES)])
            ys.append(y)
    x, y = np.array(xs), np.array(ys)
    w = np.zeros(x.shape[1])
    reg = np.full(x.shape[1], L2)
    reg[0] = 0.0  # the bias is not penalised
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        grad = x.T @ (p - y) + reg * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    acc = float((((x @ w) > 0) == (y > 0.5)).mean())
    lines = [
        '"""Genre model weights: written by tools/fit_genre.py (do not edit by hand).',
        "",
        f"Fit on {len(y)} exemplars of taxonomy {taxonomy.name} v{taxonomy.version} "
        f"(sha256 {taxonomy_hash(taxonomy)[:12]}): {int(y.sum())} fiction, {int(len(y) - y.sum())} non-fiction;",
        f"training accuracy {acc:.3f}. L2 = {L2}. BOOK_PRIOR is set, not fitted.",
        '"""',
        "",
        f"BIAS = {w[0]:.4f}",
        f"BOOK_PRIOR = {BOOK_PRIOR}",
        "WEIGHTS: dict[str, float] = {",
        *(f'    "{k}": {v:.4f},' for k, v in zip(FEATURES, w[1:], strict=True)),
        "}",
        "",
    ]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {OUT} (training accuracy {acc:.3f} over {len(y)} exemplars)")


if __name__ == "__main__":
    main()
