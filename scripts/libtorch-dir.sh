#!/usr/bin/env bash
# Prints the directory holding TorchConfig.cmake of the libtorch src/Mha2Mla.Native builds
# against (CMake's Torch_DIR). The first that exists wins:
#   1. MHA2MLA_LIBTORCH=/path  an unpacked official libtorch zip, or any CMake prefix holding
#                              TorchConfig.cmake (it must exist: a typo is an error, not a fallback)
#   2. the PyTorch python3 imports, when it is a CUDA build (its lib/ has libtorch_cuda.so)
#   3. a system libtorch: Debian's libtorch-dev (CPU)
#   4. the PyTorch python3 imports, CPU-only
# `--describe` prints which one, in words, instead. Exit 2 when there is none.
# Fast on purpose (MSBuild runs it on every build): it looks for files and never imports torch.
set -euo pipefail
python=${PYTHON:-python3}

config_under() { { find -L "$1" -maxdepth 6 -path "*/Torch/TorchConfig.cmake" 2>/dev/null || true; } | head -1 | xargs -r dirname; }

choose() {
  if [[ -n ${MHA2MLA_LIBTORCH:-} ]]; then
    dir=$(config_under "$MHA2MLA_LIBTORCH")
    [[ -n $dir ]] || { echo "libtorch-dir: MHA2MLA_LIBTORCH=$MHA2MLA_LIBTORCH holds no Torch/TorchConfig.cmake; point it at an unpacked libtorch or a PyTorch's torch.utils.cmake_prefix_path" >&2; exit 2; }
    what="MHA2MLA_LIBTORCH ($MHA2MLA_LIBTORCH)"; return
  fi
  local torch_package
  torch_package=$("$python" -c 'import importlib.util as u; s = u.find_spec("torch"); print(s.submodule_search_locations[0] if s else "")' 2>/dev/null || true)
  if [[ -n $torch_package && -e $torch_package/lib/libtorch_cuda.so ]] && dir=$(config_under "$torch_package/share/cmake") && [[ -n $dir ]]; then
    what="the CUDA PyTorch that $python imports ($torch_package)"; return
  fi
  for candidate in /usr/lib/*/cmake/Torch /usr/lib/cmake/Torch /usr/local/lib/cmake/Torch /usr/local/libtorch/share/cmake/Torch; do
    if [[ -f $candidate/TorchConfig.cmake ]]; then dir=$candidate; what="the system libtorch ($candidate)"; return; fi
  done
  if [[ -n $torch_package ]] && dir=$(config_under "$torch_package/share/cmake") && [[ -n $dir ]]; then
    what="the CPU PyTorch that $python imports ($torch_package)"; return
  fi
  echo "libtorch-dir: no libtorch found: install libtorch-dev (scripts/setup.sh), or PyTorch, or set MHA2MLA_LIBTORCH" >&2
  exit 2
}

choose
if [[ ${1:-} == --describe ]]; then echo "$what"; else echo "$dir"; fi
