# Sourced by the demo, ablation and benchmark scripts. With MHA2MLA_SMOKE=1 they run every step
# at toy sizes in artifacts/smoke/ (seconds, not minutes), which is how the "scripts" lane of
# scripts/test.sh checks that they still run; without it nothing changes.
#   smoke_dir NAME     artifacts/NAME, or artifacts/smoke/NAME when smoking
#   brown_splits WORK  the Brown Corpus training and held-out text in WORK (written once; when
#                      smoking, cut to their first 200 KB and 30 KB)
#   smoke_data WORK    options that point the demo recipe at WORK's splits and shrink it
smoking() { [[ ${MHA2MLA_SMOKE:-0} == 1 ]]; }
smoke_dir() { if smoking; then echo "artifacts/smoke/$1"; else echo "artifacts/$1"; fi; }
brown_splits() {
  mkdir -p "$1"
  local split bytes
  for split in train heldout; do
    [[ -f $1/brown-$split.txt ]] && continue
    node scripts/js/brown-text.mjs "$1/brown-$split.txt.part" "$split"
    if smoking; then
      bytes=200000; [[ $split == heldout ]] && bytes=30000
      head -c "$bytes" "$1/brown-$split.txt.part" > "$1/brown-$split.txt" && rm "$1/brown-$split.txt.part"
    else
      mv "$1/brown-$split.txt.part" "$1/brown-$split.txt"
    fi
  done
}
smoke_data() {
  smoking || return 0
  echo --calib-data "$1/brown-train.txt" --train-data "$1/brown-train.txt" --eval-data "$1/brown-heldout.txt" \
    --calib-samples 2 --calib-seq-len 64 --seq-len 64
}
