#!/usr/bin/env bash
# Benchmark: convert a random checkpoint with TinyLlama-1.1B's shapes (22 layers, hidden 2048,
# 32 heads, 4 KV heads, FFN 5632, vocab 32000; bf16 in 3 shards, 2.2 GB on disk, 4.4 GB in fp32)
# with 2-norm on 16 x 512 calibration tokens and no fine-tune. Reports wall time and peak RSS
# of the whole process (GNU time) and of the conversion stage (mha2mla_report.json).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
command -v /usr/bin/time >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
work=artifacts/bench
model=$work/tinyllama-shaped
calib=$work/calib-16x512.json
mkdir -p "$work"
if [[ ! -f $model/config.json ]]; then
  echo "bench: writing a random TinyLlama-shaped checkpoint (2.2 GB) to $model" >&2
  /usr/bin/python3 tests/reference/llama_reference.py make "$model" --dtype bf16 --shards 3 --seed 4 --config '{
    "model_type": "llama", "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22,
    "num_attention_heads": 32, "num_key_value_heads": 4, "vocab_size": 32000,
    "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": false}'
fi
[[ -f $calib ]] || /usr/bin/python3 tests/reference/llama_reference.py ids "$calib" --count 16 --length 512 --vocab 32000
du -sh "$model" >&2

scripts/mha2mla --version >/dev/null # build outside the measurement
out=$work/tinyllama-mla
/usr/bin/time -v scripts/mha2mla convert "$model" -o "$out" --overwrite --rope-strategy 2-norm --rope-pairs 4 --kv-rank 16 \
  --calib-data "$calib" --calib-samples 16 --calib-seq-len 512 --steps 0 2> "$work/convert-time.txt" >/dev/null || { cat "$work/convert-time.txt"; exit 1; }
grep -E "Elapsed \(wall|Maximum resident" "$work/convert-time.txt"
/usr/bin/python3 -c "
import json; r = json.load(open('$out/mha2mla_report.json'))
for s in r['stages']: print(f\"stage {s['stage']}: {s['seconds']:.1f} s, peak RSS {s['peak_rss_bytes'] / 2**20:.0f} MiB\")
print(f\"KV cache: {r['kv_cache']['elements_per_token_per_layer']} per token per layer, -{r['kv_cache']['reduction_percent']:.2f} %\")"
