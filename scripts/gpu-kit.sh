#!/usr/bin/env bash
# Everything a borrowed GPU machine (PyTorch + transformers, no .NET SDK, no network) needs to
# check mha2mla's CUDA path in one short session, made here:
#   scripts/gpu-kit.sh   ->  artifacts/gpu-kit/ (~50 MB: the bundle of scripts/bundle.sh and the
#                            built test project, which runs on the bundled runtime)
# On the GPU machine, from a checkout that carries artifacts/gpu-kit:
#   artifacts/gpu-kit/run.sh [OUT]   builds the native library there (install.sh), runs the CUDA
#                                    tests (tests/Gpu), scripts/bench-gpu.sh and a short run of the
#                                    FSDP recipe (scripts/recipes/fsdp), logs into OUT
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/bundle.sh
dotnet build tests/Mha2Mla.Tests -c Release --nologo -v q
kit=artifacts/gpu-kit
rm -rf "$kit" && mkdir -p "$kit"
cp artifacts/mha2mla-linux-x64.tar.gz "$kit/"
tar -C tests/Mha2Mla.Tests/bin/Release/net10.0 --exclude=libmha2mla_native.so --exclude=models -cJf "$kit/tests.tar.xz" .
# The demo's Brown Corpus text, for the FSDP recipe's short run there (no node on that machine).
source scripts/lib/smoke.sh
brown_splits artifacts/demo
tar -C artifacts/demo -cJf "$kit/brown.tar.xz" brown-train.txt brown-heldout.txt
cp scripts/gpu-kit/run.sh "$kit/run.sh"
chmod +x "$kit/run.sh"
echo "gpu-kit: $kit ($(du -sh "$kit" | cut -f1)); carry it to the GPU machine and run $kit/run.sh"
