"""GPU throughput of the embedding stage against the model's forward-only ceiling, in one run.

Three measures on the same real ~1,000-character Common Crawl passages (repeated to ``--n``), all-MiniLM-L6-v2
in fp16 on one GPU:

* **ceiling**: the transformer's forward pass alone, on one pre-tokenised batch already on the device
  (``--batch`` passages, padded to the batch's longest), repeated: what the GPU can do if nothing else waits.
* **plain sentence-transformers**: ``SentenceTransformer.encode(texts, batch_size=--batch)`` in fp16.
* **tropescan**: ``SentenceTransformerEncoder(device="cuda").encode(texts)``: tokenisation in worker processes
  (Rust, numpy-packed id matrices), length-sorted batches, pinned memory, fp16, pooling on the device into one
  output tensor.
* **tropescan, windows included**: ``encode_ranges``, what the scan calls: every passage cut into windows of at
  most 256 tokens (no truncation) where the workers tokenise it, every window embedded.

It also checks that tropescan's vectors equal sentence-transformers' (cosine, fp16 vs fp32 reference on CPU for a
sample). Target (issue 4): tropescan >= 50% of the ceiling. Run on the GPU machine by ``bench/gpu_embed.sh``.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def load_passages(path: Path, n: int) -> tuple[list[str], int]:
    """``n`` passages (the file's, repeated) and how many distinct ones the file holds."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        pool = [json.loads(line) for line in fh if line.strip()]
    return list(itertools.islice(itertools.cycle(pool), n)), len(pool)


def ceiling(model_dir: str, texts: list[str], batch: int, iters: int) -> dict[str, Any]:
    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(model_dir, device="cuda").half()
    tokens = st.tokenizer(texts[:batch], padding=True, truncation=True, max_length=256, return_tensors="pt")
    features = {k: tokens[k].to("cuda") for k in ("input_ids", "attention_mask")}
    transformer = st[0].auto_model
    with torch.inference_mode():
        for _ in range(5):
            transformer(input_ids=features["input_ids"], attention_mask=features["attention_mask"])
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(iters):
            transformer(input_ids=features["input_ids"], attention_mask=features["attention_mask"])
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    return {
        "passages_s": batch * iters / seconds,
        "tokens_per_passage": float(features["attention_mask"].sum().item() / batch),
        "padded_length": int(features["input_ids"].shape[1]),
    }


def plain(model_dir: str, texts: list[str], batch: int) -> dict[str, Any]:
    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(model_dir, device="cuda").half()
    st.encode(texts[:batch], batch_size=batch)
    torch.cuda.synchronize()
    start = time.perf_counter()
    st.encode(texts, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True)
    torch.cuda.synchronize()
    return {"passages_s": len(texts) / (time.perf_counter() - start), "n": len(texts)}


def ours(model_dir: str, texts: list[str], batch: int) -> tuple[dict[str, Any], np.ndarray]:
    import torch

    from scanner.classify.encoder import SentenceTransformerEncoder

    encoder = SentenceTransformerEncoder(model_dir, device="cuda", batch_size=batch)
    encoder.encode(texts[: batch * 2])
    torch.cuda.synchronize()
    start = time.perf_counter()
    vectors = encoder.encode(texts)
    seconds = time.perf_counter() - start
    encoder.close()
    return {"passages_s": len(texts) / seconds, "n": len(texts), "seconds": seconds}, vectors


def with_layout(model_dir: str, texts: list[str], batch: int, layout: str) -> dict[str, Any]:
    """``encode`` with ``PROCESSES x THREADS`` tokenising workers."""
    from scanner.classify import encoder as enc

    processes, threads = (int(x) for x in layout.split("x"))
    saved = enc.MAX_TOKENIZER_PROCESSES, enc.TOKENIZER_THREADS
    enc.MAX_TOKENIZER_PROCESSES, enc.TOKENIZER_THREADS = processes, threads
    try:
        result, _ = ours(model_dir, texts, batch)
    finally:
        enc.MAX_TOKENIZER_PROCESSES, enc.TOKENIZER_THREADS = saved
    return {**result, "processes": processes, "threads": threads}


def with_windows(model_dir: str, texts: list[str], batch: int) -> dict[str, Any]:
    import torch

    from scanner.classify.encoder import SentenceTransformerEncoder

    encoder = SentenceTransformerEncoder(model_dir, device="cuda", batch_size=batch)
    encoder.encode_ranges(texts[: batch * 2])
    torch.cuda.synchronize()
    start = time.perf_counter()
    cut, _ = encoder.encode_ranges(texts)
    seconds = time.perf_counter() - start
    encoder.close()
    windows = sum(map(len, cut))
    return {
        "passages_s": len(texts) / seconds,
        "windows_s": windows / seconds,
        "n": len(texts),
        "windows": windows,
        "seconds": seconds,
    }


def producer_stages(model_dir: str, texts: list[str], batch: int) -> dict[str, Any]:
    """The host side alone (no GPU work), in this process: what one tokenising worker does per batch (Rust
    tokenisation on one thread, the padded numpy matrix), then pinning; and the worker count the encoder uses."""
    import torch

    from scanner.classify import tokenize_worker
    from scanner.classify.encoder import SentenceTransformerEncoder, tokenizer_processes

    encoder = SentenceTransformerEncoder(model_dir, device="cpu", batch_size=batch)
    tokenize_worker.init(encoder.load().tokenizer.backend_tokenizer.to_str(), encoder.max_tokens)
    chunks = [texts[i : i + batch] for i in range(0, len(texts), batch)]
    out: dict[str, Any] = {"tokenizer_processes": tokenizer_processes()}
    start = time.perf_counter()
    arrays = [tokenize_worker.encode(c)[0] for c in chunks]
    out["one_worker_passages_s"] = len(texts) / (time.perf_counter() - start)
    start = time.perf_counter()
    for ids in arrays:
        torch.from_numpy(ids).pin_memory()
    out["pin_passages_s"] = len(texts) / (time.perf_counter() - start)
    return out


def reference(model_dir: str, texts: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(model_dir, device="cpu").float()
    return np.asarray(st.encode(texts, batch_size=64, normalize_embeddings=True), dtype=np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", default=".gpu/minilm-fp16")
    parser.add_argument("--passages", type=Path, default=Path(".gpu/passages.jsonl.gz"))
    parser.add_argument("--n", type=int, default=200_000, help="passages encoded by each pipeline")
    parser.add_argument("--plain-n", type=int, default=30_000, help="passages for plain sentence-transformers")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--layouts", default="", help="also time encode with these PROCESSESxTHREADS tokenising layouts, e.g. 4x3,2x7"
    )
    args = parser.parse_args()
    import torch

    texts, pool = load_passages(args.passages, args.n)
    report: dict[str, Any] = {
        "gpu": torch.cuda.get_device_name(0),
        "cpu_cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "passages": {"n": args.n, "distinct": pool, "mean_chars": sum(map(len, texts[:pool])) / pool},
        "batch": args.batch,
    }
    report["ceiling"] = ceiling(args.model_dir, texts, args.batch, args.iters)
    print("ceiling", report["ceiling"], flush=True)
    report["tropescan"], vectors = ours(args.model_dir, texts, args.batch)
    print("tropescan", report["tropescan"], flush=True)
    for layout in filter(None, args.layouts.split(",")):
        report[f"tropescan_{layout}"] = with_layout(args.model_dir, texts, args.batch, layout)
        print(f"tropescan {layout}", report[f"tropescan_{layout}"], flush=True)
    report["tropescan_with_windows"] = with_windows(args.model_dir, texts[: args.n // 2], args.batch)
    print("tropescan with windows", report["tropescan_with_windows"], flush=True)
    report["host_stages"] = producer_stages(args.model_dir, texts[:50_000], args.batch)
    print("host stages", report["host_stages"], flush=True)
    report["plain_sentence_transformers"] = plain(args.model_dir, texts[: args.plain_n], args.batch)
    print("plain", report["plain_sentence_transformers"], flush=True)
    sample = list(range(0, min(pool, len(texts)), max(1, pool // 256)))
    ref = reference(args.model_dir, [texts[i] for i in sample])
    cos = (vectors[sample] * ref).sum(1)
    report["cosine_to_fp32_cpu"] = {"min": float(cos.min()), "mean": float(cos.mean()), "n": len(sample)}
    report["ratio_to_ceiling"] = report["tropescan"]["passages_s"] / report["ceiling"]["passages_s"]
    print(json.dumps(report, indent=2), flush=True)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
