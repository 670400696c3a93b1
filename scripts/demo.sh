#!/usr/bin/env bash
# The main job on a bundled default. Until the demo model (a small Llama trained on the Brown
# Corpus) and `mha2mla convert` land, this shows the pipeline that exists today on a random
# SmolLM-shaped checkpoint: set-up, engine check, inspect, and perplexity evaluation.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh

work=artifacts/demo
model=$work/random-smollm-shaped
data=$work/tokens.json
mkdir -p "$work"
if [[ ! -f $model/config.json ]]; then
  echo "demo: making a random checkpoint with SmolLM's attention shape in $model" >&2
  /usr/bin/python3 tests/reference/llama_reference.py make "$model" --dtype bf16 --seed 7 --config '{
    "model_type": "llama", "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 6,
    "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 4096,
    "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "tie_word_embeddings": true}'
fi
[[ -f $data ]] || /usr/bin/python3 tests/reference/llama_reference.py ids "$data" --count 4 --length 512 --vocab 4096

scripts/mha2mla doctor
echo
scripts/mha2mla inspect "$model" --context 2048
echo
scripts/mha2mla eval "$model" --data "$data"
