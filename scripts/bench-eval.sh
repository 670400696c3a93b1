#!/usr/bin/env bash
# Benchmark: `mha2mla eval` tokens/s against plain PyTorch (tests/reference/llama_reference.py,
# Debian's python3-torch) on the same ~100M-parameter Llama-shaped model and the same tokens
# (2048-token sequences), with the same thread count, in one run. Not a test: prints figures.
#
#   scripts/bench-eval.sh [SEQUENCES] [THREADS] [RUNS]
# Prints the median (min-max) of RUNS runs (default 3) of each, taken alternately.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bench/common.sh
sequences=${1:-4} threads=${2:-$(nproc)} runs=${3:-3}
work=artifacts/bench
model=$work/llama-100m
data=$work/tokens-${sequences}x2048.json
mkdir -p "$work"

# SmolLM-like ratios: head_dim 64, 3 query heads per KV head, tied embeddings.
bench_model "$model" bf16 1 '{"hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12,
  "num_attention_heads": 12, "num_key_value_heads": 4, "vocab_size": 32000, "tie_word_embeddings": true}'
bench_ids "$data" "$sequences" 2048 32000

scripts/mha2mla inspect "$model" | head -5 >&2
attention=$(bench_attention)
ours=(); theirs=()
for _ in $(seq "$runs"); do
  ours+=("$(scripts/mha2mla eval "$model" --data "$data" --threads "$threads" --json --quiet | tr -d '\n')")
  theirs+=("$("$bench_python" tests/reference/llama_reference.py ppl "$model" --data "$data" --threads "$threads" --attention "$attention" | tr -d '\n')")
done

title="threads $threads, $(bench_field "${ours[0]}" tokens) scored tokens in $(bench_field "${ours[0]}" sequences) sequences of 2048"
bench_side_by_side "$title" perplexity "mha2mla eval" "PyTorch $(bench_torch) ($attention)" "${ours[@]}" -- "${theirs[@]}"
