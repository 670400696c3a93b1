#!/usr/bin/env bash
# Lane "cuda": src/Mha2Mla.Native compiled and linked against Debian 13's CUDA libtorch 2.6
# (CUDA 12.4) with the device queries (MM_WITH_CUDA) in, then `mha2mla doctor` on that build,
# which on this GPU-less machine must load and say "no GPU" in one line, exit 0.
#
# Debian's nvidia-cudnn is a downloader that fetches cuDNN from NVIDIA at install time, which
# fails offline; a stand-in package takes its place in the chroot, and for doctor's run a
# stand-in libcudnn.so.9 (every symbol libtorch_cuda binds, each aborting if ever called) lets
# the dynamic linker load libtorch_cuda, which binds every symbol at load (BIND_NOW).
#
# The chroot's packages are ~2.7 GB: it is made once per machine. The lane runs when
# src/Mha2Mla.Native changed since its last green run on this machine (a stamp beside the
# chroot), and every time with MHA2MLA_LANES_FULL=1. Needs root.
#   scripts/lanes/cuda.sh [--prepare]   --prepare only makes the chroot (scripts/test.sh does that
#                                       in the background while the host lane runs)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$here/scripts/lanes/debian13.sh"
name=cuda
prepare=0
[[ ${1:-} != --prepare ]] || prepare=1
summary="$here/artifacts/lanes/$name.txt"
mkdir -p "$chroots_root" "$here/artifacts/lanes"
((prepare)) || rm -f "$summary"

sources_hash=$(cd "$here/src/Mha2Mla.Native" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
green="$chroots_root/$name.green"
if [[ ${MHA2MLA_LANES_FULL:-0} != 1 && -f $green && $(cat "$green") == "$sources_hash" ]]; then
  ((prepare)) || echo "lane $name: skipped, src/Mha2Mla.Native unchanged since its last green run here (MHA2MLA_LANES_FULL=1 runs it)" | tee "$summary"
  exit 0
fi


cudnn_standin_package() {
  local root=$1
  mkdir -p "$root/tmp/cudnn-standin/DEBIAN"
  cat >"$root/tmp/cudnn-standin/DEBIAN/control" <<CONTROL
Package: nvidia-cudnn
Version: 9.0.0.312~cuda12
Architecture: amd64
Maintainer: mha2mla <root@localhost>
Provides: libcudnn-dev, libcudnn.so, libcudnn.so.9
Description: stand-in for Debian's cuDNN downloader (mha2mla's offline CUDA build lane)
CONTROL
  chroot "$root" dpkg-deb -b /tmp/cudnn-standin /tmp/cudnn-standin.deb >/dev/null
  chroot "$root" dpkg -i /tmp/cudnn-standin.deb >/dev/null
}

exec 9>"$chroots_root/$name.lock"
flock 9
started=$SECONDS
source "$here/scripts/lib/elapsed.sh"
chroot_ensure "$name" "libtorch-cuda-dev nvidia-cuda-toolkit cmake g++ make binutils libicu76" cudnn_standin_package
((prepare == 0)) || exit 0
# The CLI whose native library the lane swaps (the host lane builds it; build it if it ran alone).
cli="$here/src/Mha2Mla.Cli/bin/Release/net10.0"
[[ -f $cli/mha2mla.dll ]] || dotnet build "$here/src/Mha2Mla.Cli/Mha2Mla.Cli.csproj" -c Release --nologo -v q
trap 'chroot_leave "$name"' EXIT
trap 'exit 130' INT TERM HUP
chroot_enter "$name"
root=$(chroot_dir "$name")
rm -rf --one-file-system "$root/work/native" "$root/work/cli"
mkdir -p "$root/work/native/src" "$root/work/cli"
cp -r "$here/src/Mha2Mla.Native/." "$root/work/native/src/"
cp -r "$cli/." "$root/work/cli/"

fail() { echo "lane $name: FAILED: $*" | tee "$summary" >&2; exit 1; }

chroot_run "$name" 'cmake -S /work/native/src -B /work/native/build -DCMAKE_BUILD_TYPE=Release -DTorch_DIR=/usr/lib/x86_64-linux-gnu/cmake/Torch' \
  >"$here/artifacts/lanes/cuda-configure.log" 2>&1 || { tail -30 "$here/artifacts/lanes/cuda-configure.log" >&2; fail "cmake could not configure against the CUDA libtorch"; }
grep -q "CUDA libtorch, device queries compiled in" "$here/artifacts/lanes/cuda-configure.log" ||
  fail "CMake did not see a CUDA libtorch (no 'device queries compiled in' in artifacts/lanes/cuda-configure.log)"
chroot_run "$name" 'cmake --build /work/native/build -j "$(nproc)"' >"$here/artifacts/lanes/cuda-build.log" 2>&1 ||
  { tail -40 "$here/artifacts/lanes/cuda-build.log" >&2; fail "the native library did not compile or link against the CUDA libtorch"; }
echo "lane $name: compiled and linked against the CUDA libtorch ($(( SECONDS - started )) s so far)"

# doctor of that build here, where no GPU (and no real cuDNN) exists.
chroot_run "$name" 'mkdir -p /opt/cudnn-standin && cd /opt/cudnn-standin &&
  syms=$(nm -D --undefined-only /usr/lib/x86_64-linux-gnu/libtorch_cuda.so.* | awk "/@libcudnn\\.so\\.9/ { sub(/@.*/, \"\", \$2); print \$2 }" | sort -u) &&
  { echo "#include <stdio.h>"; echo "#include <stdlib.h>"; for s in $syms; do echo "void $s(void) { fputs(\"cuDNN stand-in: $s called\\n\", stderr); abort(); }"; done; } > standin.c &&
  echo "libcudnn.so.9 { global: *; };" > standin.map &&
  gcc -shared -fPIC standin.c -o libcudnn.so.9 -Wl,-soname,libcudnn.so.9 -Wl,--version-script,standin.map' ||
  fail "could not make the cuDNN stand-in"
cp "$root/work/native/build/libmha2mla_native.so" "$root/work/cli/"
doctor_text=$(chroot_run "$name" 'cd /work/cli && LD_LIBRARY_PATH=/opt/cudnn-standin dotnet mha2mla.dll doctor' 2>&1) ||
  { echo "$doctor_text" >&2; fail "doctor of the CUDA build exited non-zero on a machine without a GPU"; }
echo "$doctor_text"
doctor_json=$(chroot_run "$name" 'cd /work/cli && LD_LIBRARY_PATH=/opt/cudnn-standin dotnet mha2mla.dll doctor --json' 2>/dev/null) ||
  fail "doctor --json of the CUDA build exited non-zero"
# Checks the report and prints "libtorch X CUDA Y" for the summary line.
engine=$(python3 - "$doctor_json" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
assert d["torch_version"].startswith("2."), d["torch_version"]
assert d["cuda_runtime"], "no CUDA runtime version: the CUDA libtorch was not the one loaded"
assert d["cuda_available"] is False and d["cuda_devices"] == 0, d
print(f"libtorch {d['torch_version']} CUDA {d['cuda_runtime']}")
PY
) || fail "doctor of the CUDA build did not report a CUDA libtorch without a GPU (see above)"
grep -q "^CUDA .*no GPU" <<<"$doctor_text" || fail "doctor's CUDA line does not say that no GPU is visible"
echo "$sources_hash" >"$green"
echo "lane $name: $engine: compiled, linked, doctor without a GPU exit 0: 3 passed, 0 failed, $(elapsed "$started")" | tee "$summary"
