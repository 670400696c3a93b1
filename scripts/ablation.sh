#!/usr/bin/env bash
# The README's ablation on the demo model: a one-shot sweep of strategies x SVD modes x d_kv
# (configs/ablation.yaml, 36 points), then the demo's 200-step fine-tune (configs/demo.yaml) at
# d_kv = 8: every strategy with joint SVD, and 2-norm with split and activation SVD (6 points,
# ~6 minutes each on 2 cores). Resumable: run it again after a kill.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
mkdir -p artifacts/demo
[ -f artifacts/demo/brown-train.txt ] || node scripts/js/brown-text.mjs artifacts/demo/brown-train.txt train
[ -f artifacts/demo/brown-heldout.txt ] || node scripts/js/brown-text.mjs artifacts/demo/brown-heldout.txt heldout

scripts/mha2mla sweep demo -o artifacts/ablation/one-shot --config configs/ablation.yaml --keep-checkpoints false
scripts/mha2mla sweep demo -o artifacts/ablation/fine-tuned-strategies --config configs/demo.yaml \
  --rope-strategy 2-norm,high,low,uniform --svd joint --kv-rank 8 --keep-checkpoints false
scripts/mha2mla sweep demo -o artifacts/ablation/fine-tuned-svd --config configs/demo.yaml \
  --rope-strategy 2-norm --svd split,activation --kv-rank 8 --keep-checkpoints false
for sweep in one-shot fine-tuned-strategies fine-tuned-svd; do
  echo "== $sweep"
  column -s, -t < "artifacts/ablation/$sweep/results.csv"
done
