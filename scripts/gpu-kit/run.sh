#!/usr/bin/env bash
# On a GPU machine: unpack the kit of scripts/gpu-kit.sh, build the native library against the
# machine's PyTorch, run the CUDA tests, then scripts/bench-gpu.sh (SHAPES, RUNS to narrow it),
# then a short run of the FSDP recipe.
#   artifacts/gpu-kit/run.sh [OUT]     (logs: OUT/install.log, OUT/cuda-tests.log, OUT/bench-gpu.log, OUT/recipe.log)
set -uo pipefail
kit=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$kit/../.." && pwd)
out=${1:-$kit/out}
mkdir -p "$out"
work=$(mktemp -d)
tar -C "$work" -xzf "$kit/mha2mla-linux-x64.tar.gz"
bundle=$work/mha2mla-linux-x64
"$bundle/install.sh" > "$out/install.log" 2>&1 || { tail -40 "$out/install.log"; exit 1; }
tail -15 "$out/install.log"

mkdir -p "$work/tests" && tar -C "$work/tests" -xJf "$kit/tests.tar.xz"
export DOTNET_ROOT=$bundle/dotnet PATH=$bundle/dotnet:$PATH
export MHA2MLA_NATIVE_LIB=$bundle/app/libmha2mla_native.so MHA2MLA_PYTHON=${PYTHON:-$(command -v python3)}
cp "$MHA2MLA_NATIVE_LIB" "$work/tests/"
(cd "$work/tests" && timeout 600 dotnet Mha2Mla.Tests.dll -class Mha2Mla.Tests.Gpu.CudaTests -class Mha2Mla.Tests.Models.AttentionKernelTests \
    -class Mha2Mla.Tests.Models.ComputeDTypeTests) > "$out/cuda-tests.log" 2>&1
echo "CUDA tests: exit $? ($(grep -E 'Total:|Passed|Failed' "$out/cuda-tests.log" | tail -1))"

(cd "$repo" && MHA2MLA=$bundle/mha2mla timeout "${BENCH_TIMEOUT:-900}" scripts/bench-gpu.sh "${RUNS:-3}") 2>&1 | tee "$out/bench-gpu.log"

# The FSDP recipe (scripts/recipes/fsdp): the demo converted DeepSeek-ready, exported, tokenized,
# fine-tuned 60 steps on this one GPU by transformers' Trainer under accelerate's FSDP config
# (plain python where accelerate is missing), then read back by mha2mla: OUT/recipe.log,
# OUT/recipe.json. Without transformers (CI's scripts lane) the same steps run on the CPU up to
# finetune.py --check.
recipe() {
  local m=$bundle/mha2mla r=$work/recipe b=$work/brown python=${PYTHON:-python3} device=cpu
  "$python" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null && device=cuda
  mkdir -p "$b" && tar -C "$b" -xJf "$kit/brown.tar.xz"
  "$m" convert demo -o "$r/mla" --config "$repo/configs/demo.yaml" --latent-norm --rope-shared --steps 0 --device "$device" \
    --calib-data "$b/brown-train.txt" --eval-data "$b/brown-heldout.txt" --train-data "$b/brown-train.txt" || return 1
  "$m" export "$r/mla" -o "$r/export" --format deepseek-v3 || return 1
  "$m" tokenize "$r/export" --data "$b/brown-train.txt" --seq-len 256 --max-sequences 4000 -o "$r/windows" || return 1
  local recipe=("$repo/scripts/recipes/fsdp/finetune.py" --model "$r/export" --data "$r/windows/windows.jsonl" --steps 60 --batch 8 --lr 1e-3)
  if ! "$python" -c "import transformers" 2>/dev/null; then
    "$python" "${recipe[@]}" --check --accelerate-config "$repo/scripts/recipes/fsdp/accelerate-fsdp.yaml" > "$r/plan.json" || return 1
    "$python" -c "import json, sys; p = json.load(open(sys.argv[1])); print(json.dumps({'checked_only': 'no transformers here', 'windows': p['windows'], 'tokens': p['tokens']}))" \
      "$r/plan.json" | tee "$out/recipe.json"
    return
  fi
  local launch=("$python")
  "$python" -c "import accelerate" 2>/dev/null && launch=(accelerate launch --config_file "$repo/scripts/recipes/fsdp/accelerate-fsdp.yaml" --num_processes 1)
  echo "launcher: ${launch[*]}"
  "${launch[@]}" "${recipe[@]}" -o "$r/tuned" --log-every 5 || return 1
  local before after
  before=$("$m" eval "$r/export" --data "$b/brown-heldout.txt" --seq-len 256 --device "$device" --json) || return 1
  after=$("$m" eval "$r/tuned" --data "$b/brown-heldout.txt" --seq-len 256 --device "$device" --json) || return 1
  "$python" - "$r/tuned/metrics.jsonl" "$before" "$after" <<'PY' | tee "$out/recipe.json"
import json, sys
losses = [json.loads(line)["loss"] for line in open(sys.argv[1])]
before, after = json.loads(sys.argv[2])["perplexity"], json.loads(sys.argv[3])["perplexity"]
print(json.dumps({"first_loss": losses[0], "last_loss": losses[-1], "loss_fell": losses[-1] < losses[0],
                  "heldout_perplexity_export": before, "heldout_perplexity_tuned": after}))
PY
}
timeout "${RECIPE_TIMEOUT:-300}" bash -c "$(declare -f recipe); $(declare -p bundle work kit repo out); recipe" > "$out/recipe.log" 2>&1
echo "FSDP recipe: exit $? ($(tail -1 "$out/recipe.log"))"
