#!/usr/bin/env bash
# Benchmark: `mha2mla train` tokens/s against a plain PyTorch training loop
# (tests/reference/llama_reference.py train: same forward, AdamW, clipping) on the same random
# SmolLM-shaped Llama (~25M parameters), batch, sequence length and threads, fp32, in one run.
#   scripts/bench-train.sh [STEPS] [THREADS] [RUNS]
# Prints the median (min-max) of RUNS runs (default 3) of each, taken alternately.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bench/common.sh
steps=${1:-20} threads=${2:-$(nproc)} runs=${3:-3}
batch=8 seq=256
work=artifacts/bench
model=$work/llama-25m
data=$work/train-ids.json
mkdir -p "$work"
bench_model "$model" f32 3 '{"hidden_size": 384, "intermediate_size": 1024, "num_hidden_layers": 8,
  "num_attention_heads": 6, "num_key_value_heads": 2, "vocab_size": 16000, "max_position_embeddings": 1024, "tie_word_embeddings": true}'
bench_ids "$data" 64 $seq 16000

attention=$(bench_attention)
ours=(); theirs=()
for _ in $(seq "$runs"); do
  rm -rf "$work/train-out"
  ours+=("$(scripts/mha2mla train "$model" --data "$data" --seq-len $seq --batch $batch --steps "$steps" --lr 1e-4 \
    --threads "$threads" --save-dtype f32 -o "$work/train-out" --json --quiet | tr -d '\n')")
  theirs+=("$("$bench_python" tests/reference/llama_reference.py train "$model" --data "$data" --steps "$steps" --batch $batch --lr 1e-4 --threads "$threads" --attention "$attention" | tr -d '\n')")
done
bench_side_by_side "$steps steps of 8 x 256 tokens, $threads threads, fp32" final_loss "mha2mla train" "PyTorch $(bench_torch) ($attention)" \
  "${ours[@]}" -- "${theirs[@]}"
