#!/usr/bin/env bash
# Lane "scripts": nothing under scripts/ rots. Every .cs script compiles against today's library,
# and every shell script README names runs to the end in its smoke mode (MHA2MLA_SMOKE=1 or the
# smallest arguments it takes: toy sizes, seconds each), on this machine's engine. A check is one
# script run; its log is in artifacts/lanes/scripts/NAME.log.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
logs=artifacts/lanes/scripts
rm -rf "$logs" artifacts/smoke
mkdir -p "$logs"
started=$SECONDS
source scripts/lib/elapsed.sh
passed=0 failed=0 failures=()

check() {
  local name=$1 begun=$SECONDS
  shift
  if (set -e; "$@") >"$logs/$name.log" 2>&1; then
    passed=$((passed + 1))
    echo "  ok    $name ($((SECONDS - begun)) s)"
  else
    failed=$((failed + 1)) failures+=("$name")
    echo "  FAIL  $name ($((SECONDS - begun)) s); the end of $logs/$name.log:"
    tail -25 "$logs/$name.log" | sed 's/^/        /'
  fi
}

# Built the way the scripts' own comments say to run them (dotnet run FILE.cs) builds them.
for script in $(find scripts -name '*.cs' | sort); do
  check "compile-$(basename "$script" .cs)" dotnet build -c Release --nologo -v q "$script"
done

check shell-syntax bash -c 'for f in $(find scripts -name "*.sh") scripts/mha2mla scripts/bundle/mha2mla; do bash -n "$f" || exit 1; done'

export MHA2MLA_SMOKE=1
check libtorch-dir scripts/libtorch-dir.sh --describe
check demo scripts/demo.sh
check demo-deepseek scripts/demo-deepseek.sh
check ablation scripts/ablation.sh
check make-demo-model scripts/make-demo-model.sh
check make-demo-model-gqa scripts/make-demo-model.sh --gqa
check fidelity scripts/fidelity.sh
check fidelity-gqa scripts/fidelity.sh demo-gqa
check bench-eval scripts/bench-eval.sh 1 2 1
check bench-train scripts/bench-train.sh 1 2 1
check bench-decode scripts/bench-decode.sh 30m 1 32 1 4
check bench-convert scripts/bench-convert.sh 1
check bench-tokenizer scripts/bench-tokenizer.sh
check bench-gpu scripts/bench-gpu.sh 1
check fuzz scripts/fuzz.sh 20
# The committed golden ids must be what Hugging Face's JS tokenizer gives today, byte for byte.
check tokenizer-goldens bash -c 'mkdir -p "$0" && GOLDENS_OUT=$PWD/$0 node scripts/js/make-tokenizer-goldens.mjs && diff -r tests/data/tokenizers "$0"' artifacts/smoke/goldens
# gpu-kit.sh makes the bundle (scripts/bundle.sh) and the kit; its run.sh installs the bundle
# against this machine's libtorch and runs the CUDA-path tests (skipped without a GPU) with
# the references on Debian's PyTorch (PATH's python3 may be one without torch), and the FSDP
# recipe's steps up to finetune.py --check (no transformers here).
check gpu-kit scripts/gpu-kit.sh
check gpu-kit-run bash -c 'out=$(PYTHON=/usr/bin/python3 artifacts/gpu-kit/run.sh "$0") && echo "$out" && grep -q "CUDA tests: exit 0" <<<"$out" && grep -q "FSDP recipe: exit 0" <<<"$out"' artifacts/lanes/scripts/gpu-kit-out

engine=$(scripts/libtorch-dir.sh --describe)
line="lane scripts: on $engine: $passed passed, $failed failed, $(elapsed "$started")"
((failed == 0)) || line+=" (failed: ${failures[*]})"
echo "$line" | tee artifacts/lanes/scripts.txt
((failed == 0))
