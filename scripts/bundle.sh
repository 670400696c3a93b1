#!/usr/bin/env bash
# A bundle for machines with PyTorch (or libtorch) but no .NET SDK — the usual GPU cluster node:
#   scripts/bundle.sh  ->  artifacts/mha2mla-linux-x64.tar.gz
# It holds the .NET runtime, the published CLI (with the demo model), the native library's
# sources and install.sh, which builds the native library against the node's libtorch and runs
# `mha2mla doctor`. On the node:
#   tar xzf mha2mla-linux-x64.tar.gz && mha2mla-linux-x64/install.sh && mha2mla-linux-x64/mha2mla --help
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
name=mha2mla-linux-x64
stage=artifacts/bundle/$name
rm -rf artifacts/bundle && mkdir -p "$stage"

dotnet publish src/Mha2Mla.Cli -c Release -o "$stage/app" --nologo -v quiet -p:ErrorOnDuplicatePublishOutputFiles=false
rm -f "$stage/app/libmha2mla_native.so"   # built on the node, against its libtorch

dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
runtime=$(ls -d "$dotnet_root"/shared/Microsoft.NETCore.App/10.* | sort -V | tail -1)
mkdir -p "$stage/dotnet/shared/Microsoft.NETCore.App"
cp -a "$dotnet_root/dotnet" "$dotnet_root/host" "$stage/dotnet/"
cp -a "$runtime" "$stage/dotnet/shared/Microsoft.NETCore.App/"

mkdir -p "$stage/native-src"
cp -a src/Mha2Mla.Native/CMakeLists.txt src/Mha2Mla.Native/include src/Mha2Mla.Native/src "$stage/native-src/"
cp scripts/bundle/install.sh scripts/bundle/mha2mla scripts/libtorch-dir.sh "$stage/"
chmod +x "$stage/install.sh" "$stage/mha2mla" "$stage/libtorch-dir.sh"

tar -C artifacts/bundle -czf "artifacts/$name.tar.gz" "$name"
echo "bundle: artifacts/$name.tar.gz ($(du -h "artifacts/$name.tar.gz" | cut -f1))"
