#!/usr/bin/env bash
# The main job on the bundled default: convert the demo model (models/demo, a SmolLM-shaped
# Llama trained on the Brown Corpus) to MLA with the paper's -87.5 % SmolLM recipe
# (configs/demo.yaml: 2-norm, r = d_h/16, d_kv = d_h/8), calibrating, fine-tuning for a few
# minutes and reporting the perplexity of the original, the converted and the fine-tuned model.
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
scripts/mha2mla convert demo -o "$work/demo-mla" --config configs/demo.yaml --overwrite
echo
scripts/mha2mla inspect "$work/demo-mla" --context 1024
echo
cat "$work/demo-mla/REPORT.md"
