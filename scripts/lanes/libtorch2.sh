#!/usr/bin/env bash
# Lane "libtorch2": the whole suite against libtorch 2.6 (CPU, fused scaled_dot_product_attention)
# with the plain-PyTorch references on PyTorch 2.6, in a Debian 13 chroot (scripts/lanes/debian13.sh)
# that is made once per machine and reused while its package list is unchanged. The checkout is
# copied in (build outputs stay separate from the host's); the .NET SDK and NuGet packages are
# the host's, bind-mounted. Needs root.
#   scripts/lanes/libtorch2.sh                     the suite (summary in artifacts/lanes/libtorch2.txt)
#   scripts/lanes/libtorch2.sh --run 'COMMAND'     any command in the chroot's copy of this checkout,
#                                                  e.g. --run 'scripts/bench-eval.sh 4 2 3'
#   scripts/lanes/libtorch2.sh --shell             an interactive shell there
#   scripts/lanes/libtorch2.sh --prepare           only make the chroot
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$here/scripts/lanes/debian13.sh"
name=libtorch2
inside=/work/mha2mla
command=
case ${1:-} in
  --run) command=${2:?--run needs a command} ;;
  --shell) command="exec bash -i" ;;
  --prepare) command=: ;;
  "") ;;
  *) echo "usage: scripts/lanes/libtorch2.sh [--run 'COMMAND' | --shell | --prepare]" >&2; exit 2 ;;
esac

mkdir -p "$chroots_root" "$here/artifacts/lanes"
exec 9>"$chroots_root/$name.lock"
flock 9                                   # one run per chroot at a time
chroot_ensure "$name" "libtorch-dev python3-torch libopenblas0-pthread cmake g++ make nodejs libicu76"
[[ $command != : ]] || exit 0
trap 'chroot_leave "$name"' EXIT
trap 'exit 130' INT TERM HUP
chroot_enter "$name"
chroot_sync_checkout "$name" "$here" "$inside"
if [[ -n $command ]]; then
  chroot_run "$name" "cd $inside && $command"
  exit
fi
rm -f "$here/artifacts/lanes/$name.txt"
status=0
chroot_run "$name" "cd $inside && scripts/lanes/suite.sh $name" || status=$?
cp "$(chroot_dir "$name")$inside/artifacts/lanes/$name.txt" "$here/artifacts/lanes/$name.txt" 2>/dev/null ||
  echo "lane $name: did not finish (exit $status)" >"$here/artifacts/lanes/$name.txt"
exit "$status"
