#!/usr/bin/env bash
# The README's ablation on the demo model: a one-shot sweep of strategies x SVD modes x d_kv
# (configs/ablation.yaml, 36 points), then the demo's 200-step fine-tune (configs/demo.yaml) at
# d_kv = 8: every strategy with joint SVD, and 2-norm with split and activation SVD (6 points,
# ~6 minutes each on 2 cores). The paper's method throughout: --rope-compensation off (convert's
# default for 2-norm is on). Resumable: run it again after a kill.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
source scripts/lib/smoke.sh            # MHA2MLA_SMOKE=1: two points per sweep, toy sizes, in artifacts/smoke/
data=$(smoke_dir demo)
out=$(smoke_dir ablation)
brown_splits "$data"
read -ra tiny <<<"$(smoke_data "$data")"
one_shot=() fine_tune=()
smoking && { one_shot=(--rope-strategy 2-norm,high --svd joint --kv-rank 8); fine_tune=(--steps 2); }

scripts/mha2mla sweep demo -o "$out/one-shot" --config configs/ablation.yaml "${tiny[@]}" "${one_shot[@]}" --keep-checkpoints false
scripts/mha2mla sweep demo -o "$out/fine-tuned-strategies" --config configs/demo.yaml "${tiny[@]}" "${fine_tune[@]}" \
  --rope-strategy 2-norm,high,low,uniform --svd joint --kv-rank 8 --rope-compensation off --keep-checkpoints false
scripts/mha2mla sweep demo -o "$out/fine-tuned-svd" --config configs/demo.yaml "${tiny[@]}" "${fine_tune[@]}" \
  --rope-strategy 2-norm --svd split,activation --kv-rank 8 --rope-compensation off --keep-checkpoints false
for sweep in one-shot fine-tuned-strategies fine-tuned-svd; do
  echo "== $sweep"
  column -s, -t < "$out/$sweep/results.csv"
done
