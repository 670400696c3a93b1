#!/usr/bin/env bash
# Builds this checkout and runs the whole xunit suite against the libtorch scripts/libtorch-dir.sh
# picks, then writes one summary line to artifacts/lanes/LANE.txt: the libtorch version and the
# attention form doctor reports, and the pass/fail/skip counts. Used by every test lane, on the
# host and inside the Debian 13 chroot. MHA2MLA_TEST_FILTER runs a subset (dotnet test --filter).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
lane=${1:?usage: suite.sh LANE}
started=$SECONDS
source scripts/lib/elapsed.sh
mkdir -p artifacts/lanes
summary=artifacts/lanes/$lane.txt
rm -f "$summary"

dotnet build Mha2Mla.sln -c Release --nologo -v q -warnaserror
engine=$(dotnet src/Mha2Mla.Cli/bin/Release/net10.0/mha2mla.dll doctor --json |
  python3 -c "import json, sys; d = json.load(sys.stdin); print('libtorch', d['torch_version'] + ', attention', d['attention'].split(' (')[0])")
echo "lane $lane: $engine"

filter=()
[[ -z ${MHA2MLA_TEST_FILTER:-} ]] || filter=(--filter "$MHA2MLA_TEST_FILTER")
log=$(mktemp)
set +e
# -v q keeps the build quiet; the console logger at "minimal" still prints each failure with its message.
dotnet test Mha2Mla.sln -c Release --no-build --nologo -v q --logger "console;verbosity=minimal" "${filter[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
count() { grep -oE "$1: +[0-9]+" "$log" | awk '{ n += $2 } END { print n + 0 }'; }
passed=$(count Passed)
failed=$(count Failed)
skipped=$(count Skipped)
rm -f "$log"
if ((passed == 0 && status == 0)); then status=1; fi
echo "lane $lane: $engine: $passed passed, $failed failed, $skipped skipped, $(elapsed "$started")$( ((status)) && echo " (exit $status)")" | tee "$summary"
exit "$status"
