#!/usr/bin/env bash
# The README's one-shot fidelity ablation (issue 22) on a demo model: what each way of keeping the
# model at conversion time does, with no fine-tune, at r = 4 (configs/ablation.yaml's data):
#   at -87.5 % (d_kv 8):    the 2-norm baseline (joint SVD) x --rope-score product,sum x --rope-compensation off,on
#                           x --kv-balance off,on; on GQA also rorope x --freq-fold 1,2,4 x --rope-compensation off,on
#                           x --kv-balance off,on; with --svd activation: 2-norm x --rope-score product,sum
#                           x --rope-compensation off,on, and on GQA rorope x --rope-compensation off,on
#   at -81.25 % (d_kv 16):  --rope-score product,sum x --rope-compensation off,on; on GQA also rorope
#                           x --freq-fold 1,4 x --rope-compensation off,on
# then the demo's 200-step fine-tune (configs/demo.yaml) of the best FINE_TUNE (default 3) points at
# -87.5 % and of the baseline, each a plain `convert` with that point's settings (~6 minutes each on 2 cores).
#   scripts/fidelity.sh [demo|demo-gqa]      (default demo); resumable: run it again after a kill
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
model=${1:-demo}
case $model in demo|demo-gqa) ;; *) echo "usage: scripts/fidelity.sh [demo|demo-gqa]" >&2; exit 2 ;; esac
scripts/setup.sh
source scripts/lib/smoke.sh            # MHA2MLA_SMOKE=1: toy sizes, one point per list, in artifacts/smoke/
data=$(smoke_dir demo)
out=$(smoke_dir "fidelity/$model")
brown_splits "$data"
read -ra tiny <<<"$(smoke_data "$data")"
best=${FINE_TUNE:-3} fine_tune=()
smoking && { best=1; fine_tune=(--steps 2); }

sweep() { scripts/mha2mla sweep "$model" -o "$out/$1" --config configs/ablation.yaml "${tiny[@]}" --rope-pairs 4 --keep-checkpoints false "${@:2}"; }
if smoking; then
  sweep one-shot-87 --rope-strategy 2-norm --svd joint --kv-rank 8 --rope-compensation on
  [[ $model == demo ]] || sweep rorope-87 --rope-strategy rorope --svd joint --kv-rank 8
else
  sweep one-shot-87 --rope-strategy 2-norm --svd joint --kv-rank 8 --rope-score product,sum --rope-compensation off,on --kv-balance off,on
  sweep one-shot-87-activation --rope-strategy 2-norm --svd activation --kv-rank 8 --rope-score product,sum --rope-compensation off,on
  sweep one-shot-81 --rope-strategy 2-norm --svd joint --kv-rank 16 --rope-score product,sum --rope-compensation off,on
  if [[ $model == demo-gqa ]]; then
    sweep rorope-87 --rope-strategy rorope --svd joint --kv-rank 8 --freq-fold 1,2,4 --rope-compensation off,on --kv-balance off,on
    sweep rorope-87-activation --rope-strategy rorope --svd activation --kv-rank 8 --rope-compensation off,on
    sweep rorope-81 --rope-strategy rorope --svd joint --kv-rank 16 --freq-fold 1,4 --rope-compensation off,on
  fi
fi

# The best points at -87.5 %, fine-tuned: their settings come back from results.csv's columns.
mapfile -t chosen < <(python3 - "$best" "$out"/*-87*/results.csv <<'EOF'
import csv, sys
best, files = int(sys.argv[1]), sys.argv[2:]
rows = [row for f in files for row in csv.DictReader(open(f))]
rows.sort(key=lambda r: float(r["perplexity_converted"]))
baseline = [r for r in rows if r["name"] == "2-norm-r4-joint-dkv8"]   # the anchor of every fine-tuned figure
for r in rows[:best] + [r for r in baseline if r not in rows[:best]]:
    flags = ["--rope-strategy", r["rope_strategy"], "--svd", r["svd"], "--kv-rank", r["kv_rank"]]
    if r["rope_score"]: flags += ["--rope-score", r["rope_score"]]
    if r["freq_fold"]: flags += ["--freq-fold", r["freq_fold"]]
    flags += ["--rope-compensation", r["rope_compensation"]]   # explicit: on is convert's default for 2-norm and rorope
    if r["kv_balance"] == "true": flags += ["--kv-balance"]
    print(r["name"] + " " + " ".join(flags))
EOF
)
for line in "${chosen[@]}"; do
  read -ra point <<<"$line"
  name=${point[0]}
  [[ -f $out/fine-tuned/$name/mha2mla_report.json ]] && continue
  scripts/mha2mla convert "$model" -o "$out/fine-tuned/$name" --config configs/demo.yaml "${tiny[@]}" "${fine_tune[@]}" "${point[@]:1}" --overwrite
done

echo "== $model, one-shot (perplexity_converted) and fine-tuned (perplexity_finetuned)"
for f in "$out"/*/results.csv; do column -s, -t < "$f"; done
for line in "${chosen[@]}"; do
  name=${line%% *}
  python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(sys.argv[2], "fine-tuned:", r["perplexity"]["finetuned"], "converted:", r["perplexity"]["converted"])' \
    "$out/fine-tuned/$name/mha2mla_report.json" "$name"
done
