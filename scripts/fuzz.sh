#!/usr/bin/env bash
# Longer fuzzing than the suite's 250 cases: scripts/fuzz.sh [CASES] [SEED]
# Random mutations of safetensors headers, config.json, tokenizer.json, YAML recipes and data
# files through inspect / eval / tokenize / convert; fails on any exit other than 0 or 2 (or a hang).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cases=${1:-10000}
seed=${2:-1}
dotnet build tests/Mha2Mla.Tests -c Release --nologo -v q
MHA2MLA_FUZZ_CASES=$cases MHA2MLA_FUZZ_SEED=$seed \
  dotnet test tests/Mha2Mla.Tests -c Release --no-build --nologo --filter "FullyQualifiedName~FuzzTests" \
  --logger "console;verbosity=detailed" | grep -E "fuzz:|Passed|Failed|exit [0-9]+ for" || true
