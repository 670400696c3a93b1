#!/usr/bin/env bash
# Benchmark: decode tokens/s and the KV cache's measured bytes, original vs MLA vs MLA with an
# int4 latent cache, for batch sizes × context lengths; and the largest batch × context whose
# cache fits a budget. Each point: the median (min–max) of RUNS runs, all in one invocation.
#
#   scripts/bench-decode.sh [SHAPE] [BATCHES] [CONTEXTS] [RUNS] [NEW_TOKENS] [THREADS]
#   SHAPE: 1.1b (TinyLlama: hidden 2048, 22 layers, 32/4 heads) | 100m | 30m
#   e.g. scripts/bench-decode.sh 1.1b "1 16" "512 4096 16384" 3 16
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bench/common.sh
shape=${1:-30m}; batches=${2:-"1 4"}; contexts=${3:-"512 2048"}; runs=${4:-3}; new=${5:-32}; threads=${6:-$(nproc)}
budget=$((4 * 1024 * 1024 * 1024))
work=artifacts/bench-decode/$shape
mkdir -p "$work"

case $shape in
  1.1b) config='{"hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22, "num_attention_heads": 32, "num_key_value_heads": 4, "vocab_size": 32000' ;;
  100m) config='{"hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12, "num_attention_heads": 12, "num_key_value_heads": 4, "vocab_size": 32000' ;;
  *)    config='{"hidden_size": 512, "intermediate_size": 1536, "num_hidden_layers": 8, "num_attention_heads": 8, "num_key_value_heads": 2, "vocab_size": 8000' ;;
esac
bench_model "$work/original" bf16 1 "$config, \"max_position_embeddings\": 32768}"
vocab=$(bench_vocab "$work/original")
# r = 4, d_kv = 16: -81.25 % of the cache at head_dim 64.
[[ -f $work/mla/config.json ]] || scripts/mha2mla convert "$work/original" -o "$work/mla" --rope-strategy high --rope-pairs 4 --kv-rank 16 -q

echo "shape $shape, $threads threads, decode of $new tokens after the prompt; median (min-max) of $runs runs; cache budget $((budget >> 30)) GiB"
printf "%-6s %-8s %-10s %-28s %-16s %s\n" batch context model "decode tokens/s" "cache B/token" "fits in budget (batch x context)"
for b in $batches; do
  for c in $contexts; do
    prompts=$work/prompts-${b}x${c}.json
    bench_ids "$prompts" "$b" "$c" "$vocab" 2
    for variant in original mla mla-int4; do
      model=$work/${variant%-int4}; extra=(); [[ $variant == mla-int4 ]] && extra=(--kv-cache-dtype int4)
      rates=()
      for _ in $(seq "$runs"); do
        out=$(scripts/mha2mla generate "$model" --prompts "$prompts" --max-new-tokens "$new" --batch "$b" "${extra[@]}" --threads "$threads" --json -q)
        rates+=("$(bench_field "$out" decode_tokens_per_second)")
        per_token=$(bench_field "$out" kv_cache_bytes_per_token)
      done
      fits=$("$bench_python" -c 'import sys; print(f"{int(sys.argv[1]) / float(sys.argv[2]):,.0f} tokens")' "$budget" "$per_token")
      printf "%-6s %-8s %-10s %-28s %-16.1f %s\n" "$b" "$c" "$variant" "$(bench_figure "${rates[@]}")" "$per_token" "$fits"
    done
  done
done
