#!/usr/bin/env bash
# Benchmark: tokenizer encode throughput (MB of text per second, one thread) of mha2mla against
# Hugging Face's own JS implementation (@huggingface/tokenizers under node) on the same ~6 MB of
# English prose (the Brown Corpus), document by document; each the median (min-max) of 3 passes.
# Not a test: prints figures.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
source scripts/lib/smoke.sh            # MHA2MLA_SMOKE=1: the first 100 KB of the text
work=$(smoke_dir bench)
mkdir -p "$work"
text=$work/brown.txt
if [[ ! -f $text ]]; then
  node scripts/js/brown-text.mjs "$text" all
  if smoking; then head -c 100000 "$text" > "$text.part" && mv "$text.part" "$text"; fi
fi

for name in llama3 llama2; do
  tokenizer=scripts/js/node_modules/@lenml/tokenizer-$name/models/tokenizer.json
  ours=$(dotnet run -c Release scripts/bench/TokenizerBench.cs -- "$tokenizer" "$text" | tail -1)
  theirs=$(node scripts/js/bench-tokenizer.mjs "$tokenizer" "$text")
  /usr/bin/python3 - "$name" "$ours" "$theirs" <<'PY'
import json, statistics, sys
sys.path.insert(0, "scripts/bench")
from stats import figure
name, ours, theirs = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
assert ours["tokens"] == theirs["tokens"], f"token counts differ: {ours['tokens']} vs {theirs['tokens']}"
ratio = statistics.median(ours["mb_per_second"]) / statistics.median(theirs["mb_per_second"])
print(f"{name:8} {ours['bytes'] / 1e6:.2f} MB -> {ours['tokens']} tokens | mha2mla {figure(ours['mb_per_second'], 'MB/s', 2)} | "
      f"@huggingface/tokenizers {figure(theirs['mb_per_second'], 'MB/s', 2)} | {ratio:.1f}x  (median (min-max) of 3 passes)")
PY
done
