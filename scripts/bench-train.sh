#!/usr/bin/env bash
# Benchmark: `mha2mla train` tokens/s against a plain PyTorch training loop
# (tests/reference/llama_reference.py train: same forward, AdamW, clipping) on the same random
# SmolLM-shaped Llama (~25M parameters), batch, sequence length and threads, fp32, in one run.
#   scripts/bench-train.sh [STEPS] [THREADS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
steps=${1:-20}
threads=${2:-$(nproc)}
batch=8
seq=256
work=artifacts/bench
model=$work/llama-25m
data=$work/train-ids.json
mkdir -p "$work"
if [[ ! -f $model/config.json ]]; then
  /usr/bin/python3 tests/reference/llama_reference.py make "$model" --dtype f32 --seed 3 --config '{
    "model_type": "llama", "hidden_size": 384, "intermediate_size": 1024, "num_hidden_layers": 8,
    "num_attention_heads": 6, "num_key_value_heads": 2, "vocab_size": 16000,
    "max_position_embeddings": 1024, "rms_norm_eps": 1e-5, "tie_word_embeddings": true}'
fi
[[ -f $data ]] || /usr/bin/python3 tests/reference/llama_reference.py ids "$data" --count 64 --length $seq --vocab 16000

rm -rf "$work/train-out"
ours=$(scripts/mha2mla train "$model" --data "$data" --seq-len $seq --batch $batch --steps "$steps" --lr 1e-4 \
  --threads "$threads" --save-dtype f32 -o "$work/train-out" --json --quiet)
theirs=$(/usr/bin/python3 tests/reference/llama_reference.py train "$model" --data "$data" --steps "$steps" --batch $batch --lr 1e-4 --threads "$threads")
/usr/bin/python3 - "$ours" "$theirs" "$threads" "$steps" <<'PY'
import json, sys
ours, theirs, threads, steps = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
print(f"{steps} steps of 8 x 256 tokens, {threads} threads, fp32")
print(f"mha2mla train  {ours['tokens_per_second']:8.1f} tokens/s   final loss {ours['final_loss']:.4f}")
print(f"plain PyTorch  {theirs['tokens_per_second']:8.1f} tokens/s   final loss {theirs['final_loss']:.4f}")
print(f"ratio          {ours['tokens_per_second'] / theirs['tokens_per_second']:.3f}x")
PY
