# Sourced by the demo and ablation scripts. With MHA2MLA_SMOKE=1 they run every step at toy sizes
# in artifacts/smoke/ (seconds, not minutes), which is how the "scripts" lane of scripts/test.sh
# checks that they still run; without it nothing changes.
#   smoke_dir NAME     artifacts/NAME, or artifacts/smoke/NAME when smoking
#   smoke_data WORK    options that point the demo recipe at WORK's Brown splits and shrink it
smoking() { [[ ${MHA2MLA_SMOKE:-0} == 1 ]]; }
smoke_dir() { if smoking; then echo "artifacts/smoke/$1"; else echo "artifacts/$1"; fi; }
smoke_data() {
  smoking || return 0
  echo --calib-data "$1/brown-train.txt" --train-data "$1/brown-train.txt" --eval-data "$1/brown-heldout.txt" \
    --calib-samples 2 --calib-seq-len 64 --seq-len 64
}
