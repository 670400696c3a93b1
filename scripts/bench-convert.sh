#!/usr/bin/env bash
# Benchmark: convert a random checkpoint with TinyLlama-1.1B's shapes (22 layers, hidden 2048,
# 32 heads, 4 KV heads, FFN 5632, vocab 32000; bf16 in 3 shards, 2.2 GB on disk, 4.4 GB in fp32)
# with 2-norm on 16 x 512 calibration tokens and no fine-tune. Reports wall time and peak RSS
# of the whole process (GNU time) and of the conversion stage (mha2mla_report.json), as the
# median (min-max) of RUNS runs.
#   scripts/bench-convert.sh [RUNS]      (default 3)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
command -v /usr/bin/time >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
source scripts/lib/smoke.sh            # MHA2MLA_SMOKE=1: a 2-layer toy of the same shape family, 2 x 64 calibration tokens
source scripts/bench/common.sh
work=$(smoke_dir bench)
model=$work/tinyllama-shaped
config='{"hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22, "num_attention_heads": 32, "num_key_value_heads": 4, "vocab_size": 32000}'
samples=16 length=512
if smoking; then
  config='{"hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 1000}'
  samples=2 length=64
fi
calib=$work/calib-${samples}x$length.json
mkdir -p "$work"
bench_model "$model" bf16 4 "$config" 3      # 2.2 GB unless smoking
bench_ids "$calib" $samples $length "$(bench_vocab "$model")"
du -sh "$model" >&2

scripts/mha2mla --version >/dev/null # build outside the measurement
runs=${1:-3}
out=$work/tinyllama-mla
for i in $(seq "$runs"); do
  /usr/bin/time -v scripts/mha2mla convert "$model" -o "$out" --overwrite --rope-strategy 2-norm --rope-pairs 4 --kv-rank 16 \
    --calib-data "$calib" --calib-samples $samples --calib-seq-len $length --steps 0 2> "$work/convert-time-$i.txt" >/dev/null || { cat "$work/convert-time-$i.txt"; exit 1; }
  cp "$out/mha2mla_report.json" "$work/convert-report-$i.json"
done
"$bench_python" - "$work" "$runs" <<'PY'
import json, re, sys
sys.path.insert(0, "scripts/bench")
from stats import figure
work, runs = sys.argv[1], int(sys.argv[2])
wall, rss, stage = [], [], []
for i in range(1, runs + 1):
    text = open(f"{work}/convert-time-{i}.txt").read()
    clock = re.search(r"Elapsed \(wall clock\) time .*: (.*)", text).group(1).split(":")
    wall.append(sum(float(x) * 60 ** k for k, x in enumerate(reversed(clock))))
    rss.append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024)
    report = json.load(open(f"{work}/convert-report-{i}.json"))
    stage.append(next(s for s in report["stages"] if s["stage"] == "convert")["peak_rss_bytes"] / 2**20)
print(f"median (min-max) of {runs} runs")
print(f"wall time                         {figure(wall, 's')}")
print(f"peak RSS, whole process (GNU time) {figure(rss, 'MiB', 0)}")
print(f"peak RSS, conversion stage         {figure(stage, 'MiB', 0)}")
print(f"KV cache: {report['kv_cache']['elements_per_token_per_layer']} per token per layer, -{report['kv_cache']['reduction_percent']:.2f} %")
PY
