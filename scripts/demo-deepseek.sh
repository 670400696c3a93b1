#!/usr/bin/env bash
# The demo as a DeepSeek-V3 checkpoint: convert with the demo recipe plus what DeepSeek needs
# (--latent-norm, --rope-shared), fine-tune as the demo does, export, and check the export in
# plain PyTorch (tests/reference/deepseek_reference.py, transformers' DeepSeek-V3 conventions)
# against mha2mla's evaluation of the MLA source on the same 16 held-out windows.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
source scripts/lib/smoke.sh            # MHA2MLA_SMOKE=1: toy sizes in artifacts/smoke/demo
work=$(smoke_dir demo)
read -ra tiny <<<"$(smoke_data "$work")"
smoking && tiny+=(--steps 2)
[ -f "$work/readback-ids.json" ] || { echo "run scripts/demo.sh first (with the same MHA2MLA_SMOKE) (it writes the data files)"; exit 2; }

scripts/mha2mla convert demo -o "$work/demo-mla-deepseek" --config configs/demo.yaml --latent-norm --rope-shared "${tiny[@]}" --overwrite
scripts/mha2mla export "$work/demo-mla-deepseek" -o "$work/demo-deepseek" --format deepseek-v3 --overwrite
cat "$work/demo-mla-deepseek/REPORT.md"
python=${MHA2MLA_PYTHON:-/usr/bin/python3}
echo "MLA source, mha2mla eval:        $(scripts/mha2mla eval "$work/demo-mla-deepseek" --data "$work/readback-ids.json" --json -q | tr -d '\n ')"
echo "DeepSeek-V3 export, plain PyTorch: $("$python" tests/reference/deepseek_reference.py perplexity "$work/demo-deepseek" --data "$work/readback-ids.json")"
