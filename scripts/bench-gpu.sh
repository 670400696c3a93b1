#!/usr/bin/env bash
# Benchmark on one CUDA GPU: mha2mla against PyTorch + transformers on the same GPU, the same
# tokens, batch and AdamW settings, on random checkpoints of TinyLlama-1.1B's and Llama-3-8B's
# shapes (made by transformers, bf16 safetensors): eval tokens/s, train tokens/s (1.1B), and
# `convert --device cuda` time. Each figure is the median (min-max) of RUNS runs (default 3).
#   scripts/bench-gpu.sh [RUNS]          (MHA2MLA: the CLI to run; default scripts/mha2mla)
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

median() { "$python" -c 'import statistics, sys; v = sorted(float(x) for x in sys.argv[1:]); print(f"{statistics.median(v):.0f} ({v[0]:.0f}-{v[-1]:.0f})")' "$@"; }
rate() { "$python" -c 'import json, sys; print(json.load(sys.stdin)["tokens_per_second"])'; }

for shape in 1.1b 8b; do
  model=$work/llama-$shape
  case $shape in
    1.1b) sequences=8; train_batch=2 ;;
    8b)   sequences=4; train_batch=0 ;;   # fp32 AdamW state of 8B does not fit one GPU: no train row
  esac
  [[ -f $model/config.json ]] || "$python" scripts/bench/gpu_reference.py make "$model" --shape "$shape"
  data=$work/ids-$shape.json
  [[ -f $data ]] || "$python" scripts/bench/gpu_reference.py ids "$data" --count "$sequences" --length 2048

  ours=(); theirs=()
  for _ in $(seq "$runs"); do
    ours+=("$("$cli" eval "$model" --data "$data" --device cuda --json -q | rate)")
    theirs+=("$("$python" scripts/bench/gpu_reference.py eval "$model" --data "$data" | rate)")
  done
  echo "$shape eval, $sequences x 2048 tokens: mha2mla $(median "${ours[@]}") tok/s | transformers bf16 sdpa $(median "${theirs[@]}") tok/s"

  if (( train_batch > 0 )); then
    ours=(); theirs=()
    for _ in $(seq "$runs"); do
      rm -rf "$work/train-out"
      ours+=("$("$cli" train "$model" --data "$data" --device cuda --steps 10 --batch $train_batch --seq-len 2048 --lr 1e-4 -o "$work/train-out" --json -q | rate)")
      theirs+=("$("$python" scripts/bench/gpu_reference.py train "$model" --data "$data" --steps 10 --batch $train_batch | rate)")
    done
    echo "$shape train, batch $train_batch x 2048, AdamW, bf16 autocast: mha2mla $(median "${ours[@]}") tok/s | transformers $(median "${theirs[@]}") tok/s"
  fi

  start=$(date +%s.%N)
  if out=$("$cli" convert "$model" -o "$work/convert-$shape" --device cuda --rope-strategy 2-norm --calib-data "$data" --calib-samples 4 \
      --calib-seq-len 2048 --overwrite --json -q 2>&1); then
    echo "$shape convert --device cuda: $("$python" -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.1f}")' "$start" "$(date +%s.%N)") s"
  else
    echo "$shape convert --device cuda: $(echo "$out" | tail -1)"
  fi
done
