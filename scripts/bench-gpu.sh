#!/usr/bin/env bash
# Benchmark on one CUDA GPU: mha2mla against PyTorch + transformers on the same GPU, the same
# tokens, batch and AdamW settings, on random checkpoints of TinyLlama-1.1B's and Llama-3-8B's
# shapes (made by transformers, bf16 safetensors): eval and train tokens/s side by side (with
# each side's perplexity / final loss), and the time and GPU peak of `convert --device cuda`.
# Each figure is the median (min-max) of RUNS runs (default 3).
#   scripts/bench-gpu.sh [RUNS]          (MHA2MLA: the CLI to run, default scripts/mha2mla; SHAPES: default "1.1b 8b")
# Without a CUDA GPU or without transformers it says so and exits 0. Run it from a checkout
# (with the .NET SDK) or from the bundle of scripts/bundle.sh (MHA2MLA=.../mha2mla).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-3}
python=${PYTHON:-python3}
cli=${MHA2MLA:-scripts/mha2mla}
if ! "$python" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  echo "bench-gpu: no CUDA GPU visible to $python's PyTorch; nothing measured"; exit 0
fi
if ! "$python" -c 'import transformers' 2>/dev/null; then
  echo "bench-gpu: transformers is not installed for $python; nothing measured"; exit 0
fi
work=${BENCH_DIR:-artifacts/bench-gpu}
mkdir -p "$work"
"$python" -c 'import torch, transformers; p = torch.cuda.get_device_properties(0); print(f"GPU {p.name}, {p.total_memory / 2**30:.0f} GiB, PyTorch {torch.__version__}, transformers {transformers.__version__}")'
"$cli" doctor | sed 's/^/  /'

PYTHON=$python source scripts/bench/common.sh   # the printers; the checkpoints here are transformers' own (gpu_reference.py)
side_by_side() { bench_side_by_side "$@"; }
median() { bench_figure "$@"; }
gpu_peak() { "$python" -c 'import json, sys; print(f"{max(s["peak_gpu_bytes"] or 0 for s in json.load(sys.stdin)["stages"]) / 2**30:.2f}")'; }

for shape in ${SHAPES:-1.1b 8b}; do
  model=$work/llama-$shape
  case $shape in
    1.1b) sequences=8; train_batch=2 ;;
    8b)   sequences=4; train_batch=1 ;;   # fp32 weights + AdamW state: 128 GB at 8B, an H200's worth
  esac
  [[ -f $model/config.json ]] || "$python" scripts/bench/gpu_reference.py make "$model" --shape "$shape"
  data=$work/ids-$shape.json
  [[ -f $data ]] || "$python" scripts/bench/gpu_reference.py ids "$data" --count "$sequences" --length 2048

  ours=(); theirs=()
  for _ in $(seq "$runs"); do
    ours+=("$("$cli" eval "$model" --data "$data" --device cuda --json -q)")
    theirs+=("$("$python" scripts/bench/gpu_reference.py eval "$model" --data "$data")")
  done
  side_by_side "$shape eval, $sequences x 2048 tokens, bf16" perplexity "mha2mla" "transformers" "${ours[@]}" -- "${theirs[@]}"

  ours=(); theirs=()
  for _ in $(seq "$runs"); do
    if out=$("$cli" train "$model" --data "$data" --device cuda --steps 10 --batch $train_batch --seq-len 2048 --lr 1e-4 \
        -o "$work/train-out" --overwrite --json -q 2>&1); then ours+=("$out"); else echo "$shape train: mha2mla: $(echo "$out" | tail -1)"; break; fi
    if out=$("$python" scripts/bench/gpu_reference.py train "$model" --data "$data" --steps 10 --batch $train_batch 2>&1); then theirs+=("$out")
    else echo "$shape train: transformers: $(echo "$out" | tail -1)"; break; fi
  done
  rm -rf "$work/train-out"
  if (( ${#ours[@]} == runs && ${#theirs[@]} == runs )); then
    side_by_side "$shape train, batch $train_batch x 2048, AdamW, bf16 autocast" final_loss "mha2mla" "transformers" "${ours[@]}" -- "${theirs[@]}"
  fi

  seconds=(); peaks=()
  for _ in $(seq "$runs"); do
    start=$(date +%s.%N)
    if ! out=$("$cli" convert "$model" -o "$work/convert-$shape" --device cuda --rope-strategy 2-norm --calib-data "$data" --calib-samples 4 \
        --calib-seq-len 2048 --overwrite --json -q 2>&1); then
      echo "$shape convert --device cuda: $(echo "$out" | tail -1)"; break
    fi
    seconds+=("$("$python" -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]))' "$start" "$(date +%s.%N)")")
    peaks+=("$(echo "$out" | gpu_peak)")
  done
  if (( ${#seconds[@]} == runs )); then
    echo "$shape convert --device cuda (2-norm, 4 x 2048 calibration tokens): $(median "${seconds[@]}") s, GPU peak $(median "${peaks[@]}") GiB, median (min-max) of $runs"
  fi
  rm -rf "$work/convert-$shape"
done
