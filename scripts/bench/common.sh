# The benchmarks' one driver, sourced by scripts/bench-*.sh (from the repository root): one maker
# of random checkpoints and token files (the plain-PyTorch reference, so neither side of a
# comparison made its own input), the anchor's attention, and one printer of figures
# (scripts/bench/stats.py: median (min-max) of the runs).

bench_python=${PYTHON:-/usr/bin/python3}

# bench_model DIR DTYPE SEED CONFIG_JSON [SHARDS]: a random Llama checkpoint in DIR unless one is
# there. CONFIG_JSON gives the shape; what it leaves out is a plain Llama's (model_type llama,
# max_position_embeddings 2048, rms_norm_eps 1e-5, rope_theta 10000, untied head).
bench_model() {
  local dir=$1 dtype=$2 seed=$3 config=$4 shards=${5:-1}
  [[ -f $dir/config.json ]] && return 0
  config=$("$bench_python" -c 'import json, sys
c = {"model_type": "llama", "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False}
c.update(json.loads(sys.argv[1])); print(json.dumps(c))' "$config")
  echo "bench: making a random checkpoint in $dir" >&2
  "$bench_python" tests/reference/llama_reference.py make "$dir" --dtype "$dtype" --seed "$seed" --shards "$shards" --config "$config"
}

# bench_ids FILE COUNT LENGTH VOCAB [SEED]: COUNT random sequences of LENGTH token ids (.json) unless FILE is there.
bench_ids() {
  [[ -f $1 ]] || "$bench_python" tests/reference/llama_reference.py ids "$1" --count "$2" --length "$3" --vocab "$4" --seed "${5:-0}"
}

# The vocabulary size of a model's config.json.
bench_vocab() { "$bench_python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["vocab_size"])' "$1/config.json"; }

# How the anchor attends: as transformers does by default with this PyTorch, "sdpa" (torch's
# scaled_dot_product_attention) from 2.0 on, "eager" before (1.13 has no public SDPA).
bench_attention() { "$bench_python" -c 'import torch; print("sdpa" if int(torch.__version__.split(".")[0]) >= 2 else "eager")'; }

bench_torch() { "$bench_python" -c 'import torch; print(torch.__version__)'; }

# bench_figure [--digits N] [--unit U] VALUE...: "median (min-max)".
bench_figure() { "$bench_python" scripts/bench/stats.py "$@"; }

# bench_side_by_side TITLE FIELD NAME_A NAME_B RUN_A... -- RUN_B...: tokens/s of two implementations and their ratio.
bench_side_by_side() { "$bench_python" scripts/bench/side_by_side.py "$@"; }

# bench_field JSON NAME: one field of a JSON object.
bench_field() { "$bench_python" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
