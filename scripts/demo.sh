#!/usr/bin/env bash
# The main job on the bundled default: convert the demo model (models/demo, a SmolLM-shaped
# Llama trained on the Brown Corpus) to MLA with the paper's -87.5 % SmolLM recipe
# (configs/demo.yaml: 2-norm, r = d_h/16, d_kv = d_h/8), calibrating, fine-tuning for a few
# minutes and reporting the perplexity of the original, the converted and the fine-tuned model.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
source scripts/lib/smoke.sh            # MHA2MLA_SMOKE=1: toy sizes in artifacts/smoke/demo
work=$(smoke_dir demo)
read -ra tiny <<<"$(smoke_data "$work")"
smoking && tiny+=(--steps 2)
brown_splits "$work"

scripts/mha2mla doctor
echo
scripts/mha2mla inspect demo --context 1024
echo
scripts/mha2mla convert demo -o "$work/demo-mla" --config configs/demo.yaml "${tiny[@]}" --overwrite
echo
scripts/mha2mla inspect "$work/demo-mla" --context 1024
echo
cat "$work/demo-mla/REPORT.md"
echo

# The converted model read back without mha2mla: plain PyTorch (scripts/mla_perplexity.py) and
# `mha2mla eval` on the same 16 held-out windows of 256 tokens must agree.
python3 -c 'import json, sys; docs = open(sys.argv[1], encoding="utf-8").read().split("\n\n"); json.dump([d for d in docs if d.strip()][:60], open(sys.argv[2], "w"))' \
  "$work/brown-heldout.txt" "$work/readback-docs.json"
scripts/mha2mla tokenize "$work/demo-mla" --strings "$work/readback-docs.json" --json > "$work/readback-tokens.json"
python3 -c 'import json, sys; ids = [i for d in json.load(open(sys.argv[1])) for i in d["ids"]]; json.dump([ids[k:k + 256] for k in range(0, 16 * 256, 256)], open(sys.argv[2], "w"))' \
  "$work/readback-tokens.json" "$work/readback-ids.json"
python=${MHA2MLA_PYTHON:-/usr/bin/python3}   # Debian's, with python3-torch
echo "Read back, plain PyTorch: $("$python" scripts/mla_perplexity.py "$work/demo-mla" --data "$work/readback-ids.json")"
echo "Read back, mha2mla eval:  $(scripts/mha2mla eval "$work/demo-mla" --data "$work/readback-ids.json" --json -q | tr -d '\n ')"
