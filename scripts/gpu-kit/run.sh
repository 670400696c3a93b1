#!/usr/bin/env bash
# On a GPU machine: unpack the kit of scripts/gpu-kit.sh, build the native library against the
# machine's PyTorch, run the CUDA tests, then scripts/bench-gpu.sh (SHAPES, RUNS to narrow it).
#   artifacts/gpu-kit/run.sh [OUT]     (logs: OUT/install.log, OUT/cuda-tests.log, OUT/bench-gpu.log)
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
