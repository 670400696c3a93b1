#!/usr/bin/env bash
# Builds the bundle's native library against this machine's libtorch, then runs `mha2mla doctor`.
# Which libtorch (libtorch-dir.sh): MHA2MLA_LIBTORCH=/path (an official libtorch zip, unpacked,
# or any CMake prefix holding TorchConfig.cmake); else the CUDA PyTorch that python3 imports;
# else a system libtorch (Debian's libtorch-dev); else a CPU PyTorch. Needs cmake and a C++17
# compiler.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
torch_dir=$("$here/libtorch-dir.sh") || exit 2
echo "install: building the native library against $("$here/libtorch-dir.sh" --describe)"
command -v cmake >/dev/null || { echo "install: cmake is missing (apt install cmake, or pip install cmake)" >&2; exit 2; }
generator=(); command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$here/native-src" -B "$here/native-build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DTorch_DIR="$torch_dir" > "$here/native-build.log" 2>&1 \
  || { cat "$here/native-build.log" >&2; echo "install: CMake could not find libtorch; set MHA2MLA_LIBTORCH to a libtorch or PyTorch CMake prefix" >&2; exit 2; }
cmake --build "$here/native-build" -j "$(nproc)" >> "$here/native-build.log" 2>&1 \
  || { tail -30 "$here/native-build.log" >&2; echo "install: the native build failed (log: $here/native-build.log)" >&2; exit 2; }
cp "$here/native-build/libmha2mla_native.so" "$here/app/"
echo "install: done; $here/mha2mla is ready"
"$here/mha2mla" doctor
