#!/usr/bin/env bash
# Benchmark: `mha2mla train` tokens/s against a plain PyTorch training loop
# (tests/reference/llama_reference.py train: same forward, AdamW, clipping) on the same random
# SmolLM-shaped Llama (~25M parameters), batch, sequence length and threads, fp32, in one run.
#   scripts/bench-train.sh [STEPS] [THREADS] [RUNS]
# Prints the median (min-max) of RUNS runs (default 3) of each, taken alternately.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
steps=${1:-20}
threads=${2:-$(nproc)}
runs=${3:-3}
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

# The anchor attends as transformers does by default with this PyTorch: "sdpa" (torch's
# scaled_dot_product_attention) from 2.0 on, "eager" before (1.13 has no public SDPA).
attention=$(/usr/bin/python3 -c 'import torch; print("sdpa" if int(torch.__version__.split(".")[0]) >= 2 else "eager")')
ours=(); theirs=()
for _ in $(seq "$runs"); do
  rm -rf "$work/train-out"
  ours+=("$(scripts/mha2mla train "$model" --data "$data" --seq-len $seq --batch $batch --steps "$steps" --lr 1e-4 \
    --threads "$threads" --save-dtype f32 -o "$work/train-out" --json --quiet | tr -d '\n')")
  theirs+=("$(/usr/bin/python3 tests/reference/llama_reference.py train "$model" --data "$data" --steps "$steps" --batch $batch --lr 1e-4 --threads "$threads" --attention "$attention" | tr -d '\n')")
done
/usr/bin/python3 scripts/bench/side_by_side.py "$steps steps of 8 x 256 tokens, $threads threads, fp32" final_loss "mha2mla train" "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') ($attention)" \
  "${ours[@]}" -- "${theirs[@]}"
