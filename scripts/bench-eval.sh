#!/usr/bin/env bash
# Benchmark: `mha2mla eval` tokens/s against plain PyTorch (tests/reference/llama_reference.py,
# Debian's python3-torch) on the same ~100M-parameter Llama-shaped model and the same tokens
# (2048-token sequences), with the same thread count, in one run. Not a test: prints figures.
#
#   scripts/bench-eval.sh [SEQUENCES] [THREADS] [RUNS]
# Prints the median (min-max) of RUNS runs (default 3) of each, taken alternately.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
sequences=${1:-4}
threads=${2:-$(nproc)}
runs=${3:-3}
work=artifacts/bench
model=$work/llama-100m
data=$work/tokens-${sequences}x2048.json
mkdir -p "$work"

if [[ ! -f $model/config.json ]]; then
  echo "bench: making a random 100M-parameter checkpoint in $model" >&2
  # SmolLM-like ratios: head_dim 64, 3 query heads per KV head, tied embeddings.
  /usr/bin/python3 tests/reference/llama_reference.py make "$model" --dtype bf16 --seed 1 --config '{
    "model_type": "llama", "hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12,
    "num_attention_heads": 12, "num_key_value_heads": 4, "vocab_size": 32000,
    "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "tie_word_embeddings": true}'
fi
[[ -f $data ]] || /usr/bin/python3 tests/reference/llama_reference.py ids "$data" --count "$sequences" --length 2048 --vocab 32000

scripts/mha2mla inspect "$model" | head -5 >&2
# The anchor attends as transformers does by default with this PyTorch: "sdpa" (torch's
# scaled_dot_product_attention) from 2.0 on, "eager" before (1.13 has no public SDPA).
attention=$(/usr/bin/python3 -c 'import torch; print("sdpa" if int(torch.__version__.split(".")[0]) >= 2 else "eager")')
ours=(); theirs=()
for _ in $(seq "$runs"); do
  ours+=("$(scripts/mha2mla eval "$model" --data "$data" --threads "$threads" --json --quiet | tr -d '\n')")
  theirs+=("$(/usr/bin/python3 tests/reference/llama_reference.py ppl "$model" --data "$data" --threads "$threads" --attention "$attention" | tr -d '\n')")
done

first=${ours[0]}
title="threads $threads, $(/usr/bin/python3 -c 'import json, sys; r = json.loads(sys.argv[1]); print(r["tokens"], "scored tokens in", r["sequences"], "sequences of 2048")' "$first")"
/usr/bin/python3 scripts/bench/side_by_side.py "$title" perplexity "mha2mla eval" "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') ($attention)" "${ours[@]}" -- "${theirs[@]}"
