#!/usr/bin/env bash
# The whole test suite, from a fresh clone: install what is missing, build (the native library
# included), run every test. This is the command README and CI run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh
dotnet build Mha2Mla.sln -c Release --nologo -v q -warnaserror
log=$(mktemp)
set +e
dotnet test Mha2Mla.sln -c Release --no-build --nologo -v q 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One closing line any CI reader understands.
count() { grep -oE "$1: +[0-9]+" "$log" | awk '{ n += $2 } END { print n + 0 }'; }
passed=$(count Passed)
failed=$(count Failed)
rm -f "$log"
echo "Tests: ${passed:-0} passed, ${failed:-0} failed"
if [[ "${passed:-0}" -eq 0 ]]; then
  echo "test: no test ran" >&2
  exit 1
fi
exit "$status"
