#!/usr/bin/env bash
# The main job on the bundled default, the demo model (models/demo: a SmolLM-shaped Llama
# trained on the Brown Corpus by scripts/make-demo-model.sh). Until `mha2mla convert` lands,
# this runs the pipeline that exists: set-up, engine check, inspect, held-out perplexity, a
# short fine-tune of the attention and norms, and the perplexity after it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh

work=artifacts/demo
mkdir -p "$work"
node scripts/js/brown-text.mjs "$work/brown-train.txt" train
node scripts/js/brown-text.mjs "$work/brown-heldout.txt" heldout

scripts/mha2mla doctor
echo
scripts/mha2mla inspect demo --context 1024
echo
scripts/mha2mla eval demo --data "$work/brown-heldout.txt" --seq-len 256
scripts/mha2mla train demo --data "$work/brown-train.txt" --seq-len 256 --batch 8 --steps 20 --lr 1e-4 \
  --freeze-non-attention --log-every 5 -o "$work/finetuned" --overwrite
scripts/mha2mla eval "$work/finetuned" --data "$work/brown-heldout.txt" --seq-len 256
