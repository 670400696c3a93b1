#!/usr/bin/env bash
# The whole test suite, from a fresh clone, on every engine mha2mla claims. This is the command
# README and CI run. Lanes, in order (each installs what it needs; all but "host" need root):
#   host       scripts/lanes/host.sh       the suite on Debian 12's libtorch 1.13 (scripts/setup.sh)
#   libtorch2  scripts/lanes/libtorch2.sh  the suite on libtorch / PyTorch 2.6 in a Debian 13 chroot
#   cuda       scripts/lanes/cuda.sh       the native library compiled + linked against Debian 13's
#                                          CUDA libtorch 2.6, and its doctor without a GPU (runs
#                                          when src/Mha2Mla.Native changed since its last green run
#                                          on this machine; MHA2MLA_LANES_FULL=1 always)
#   scripts    scripts/lanes/scripts.sh    every .cs script compiled, README's shell scripts in smoke mode
# MHA2MLA_LANES="host scripts" runs some of them. Every lane runs even when an earlier one
# failed; the last lines are one summary per lane and one closing count.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
lanes=${MHA2MLA_LANES:-host libtorch2 cuda scripts}
mkdir -p artifacts/lanes
status=0
scripts/setup.sh || exit 1
# The chroot lanes' Debian 13 trees (minutes of download and unpacking on a fresh machine, reused
# after) are made in the background while the host lane runs; each lane waits for its own.
trap 'kill $(jobs -p) 2>/dev/null' EXIT
for lane in libtorch2 cuda; do
  [[ " $lanes " != *" $lane "* ]] || scripts/lanes/"$lane".sh --prepare >"artifacts/lanes/$lane-prepare.log" 2>&1 &
done
for lane in $lanes; do
  [[ -x scripts/lanes/$lane.sh ]] || { echo "test: no lane '$lane' (scripts/lanes/*.sh)" >&2; exit 2; }
  echo "==== lane $lane ===="
  rm -f "artifacts/lanes/$lane.txt"
  scripts/lanes/"$lane".sh || status=1
  [[ -f artifacts/lanes/$lane.txt ]] || echo "lane $lane: did not finish" >"artifacts/lanes/$lane.txt"
done

echo "==== summary ===="
passed=0 failed=0
for lane in $lanes; do
  line=$(cat "artifacts/lanes/$lane.txt")
  echo "$line"
  p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || echo 0)
  f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || echo 0)
  passed=$((passed + p)) failed=$((failed + f))
  grep -qE 'did not finish|FAILED' <<<"$line" && failed=$((failed + 1))
done
# One closing line any CI reader understands.
echo "Tests: $passed passed, $failed failed"
if ((passed == 0)); then
  echo "test: no test ran" >&2
  exit 1
fi
((failed == 0)) || status=1
exit "$status"
