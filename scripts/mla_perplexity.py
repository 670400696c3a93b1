#!/usr/bin/env python3
"""Loads an MLA checkpoint written by `mha2mla convert` (docs/mla-format.md) in plain PyTorch
and computes perplexity: proof that the format is usable without mha2mla.

  python3 scripts/mla_perplexity.py MLA_DIR --data FILE.json     (an array of arrays of token ids)
prints {"perplexity": ..., "tokens": ...}
"""
import argparse
import json
import math
import os
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def load_weights(directory):
    index = json.load(open(os.path.join(directory, "model.safetensors.index.json")))
    weights = {}
    for file in sorted(set(index["weight_map"].values())):
        data = open(os.path.join(directory, file), "rb").read()
        (n,) = struct.unpack("<Q", data[:8])
        for name, info in json.loads(data[8:8 + n]).items():
            if name == "__metadata__":
                continue
            begin, end = info["data_offsets"]
            raw = bytearray(data[8 + n + begin:8 + n + end])
            t = torch.frombuffer(raw, dtype=DTYPES[info["dtype"]]) if raw else torch.empty(0, dtype=DTYPES[info["dtype"]])
            weights[name] = t.reshape(info["shape"]).float()
    return weights


def layer_windows(config):
    """Each layer's sliding window (None: full causal attention), as transformers configures it."""
    layers, kind = config["num_hidden_layers"], config.get("model_type", "llama")
    if kind == "mistral":
        window = config.get("sliding_window", 4096)
        types = config.get("layer_types") or ["sliding_attention"] * layers
    elif kind == "qwen2":
        window = config.get("sliding_window", 4096) if config.get("use_sliding_window", False) else None
        first = config.get("max_window_layers", 28)
        types = config.get("layer_types") or [
            "sliding_attention" if window is not None and i >= first else "full_attention" for i in range(layers)]
    else:
        window, types = None, ["full_attention"] * layers
    return [window if t == "sliding_attention" else None for t in types]


def logits(config, W, ids):
    """Logits (T, vocab) of one sequence of token ids under the MLA model (config, weights W)."""
    mla = config["mla"]
    d, nh = config["hidden_size"], config["num_attention_heads"]
    nkv = config.get("num_key_value_heads", nh)
    dh = config.get("head_dim") or d // nh
    r2, g, eps = 2 * mla["rope_pairs"], nh // nkv, config.get("rms_norm_eps", 1e-6)
    # transformers 4 writes rope_theta (+ rope_scaling), transformers 5 rope_parameters.
    rope = config.get("rope_scaling") or config.get("rope_parameters") or {}
    base = rope.get("rope_theta", config.get("rope_theta", 10000.0))
    assert rope.get("rope_type", rope.get("type", "default")) == "default", "this script implements plain RoPE only"
    inv = 1.0 / (base ** (torch.arange(0, dh, 2, dtype=torch.int64).float() / dh))

    def norm(x, w, eps=eps):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    def lin(x, name):
        return torch.nn.functional.linear(x, W[name + ".weight"], W.get(name + ".bias"))

    ids = torch.tensor([ids])
    T = ids.shape[1]
    angles = torch.arange(T).float()[:, None] * inv[None, :]            # (T, d_h/2)
    windows = layer_windows(config)
    x = W["model.embed_tokens.weight"][ids]
    for i in range(config["num_hidden_layers"]):
        # Query t sees keys t - window + 1 … t (all earlier keys without a window).
        allowed = torch.ones(T, T, dtype=torch.bool).tril()
        if windows[i] is not None:
            allowed &= torch.ones(T, T, dtype=torch.bool).triu(-(windows[i] - 1))
        causal = torch.zeros(T, T).masked_fill(~allowed, float("-inf"))
        p = f"model.layers.{i}.self_attn."
        # Each rope head rotates its kept pairs; the query heads it serves share them. Layout: [k..., k+d_h/2...].
        # Version 3's rope_heads = 1: one rope head every query head reads, d_h position-free dims
        # beside it, scores scaled by the whole query width (DeepSeek's layout); else one per KV head.
        shared = mla.get("rope_heads") == 1
        nr, nope = (1, dh) if shared else (nkv, dh - r2)
        kept = torch.tensor(mla["pairs"][i])                               # (rope heads, r)
        a = torch.cat([angles[:, kept], angles[:, kept]], dim=-1)         # (T, rope heads, 2r)
        cos_k, sin_k = a.cos().permute(1, 0, 2), a.sin().permute(1, 0, 2)  # (rope heads, T, 2r)
        cos_q, sin_q = cos_k.repeat_interleave(nh // nr, 0), sin_k.repeat_interleave(nh // nr, 0)

        def rope(t, c, s):
            half = t.shape[-1] // 2
            return t * c + torch.cat([-t[..., half:], t[..., :half]], -1) * s

        h = norm(x, W[f"model.layers.{i}.input_layernorm.weight"])
        q = lin(h, p + "q_proj").view(1, T, nh, r2 + nope).transpose(1, 2)
        c = lin(h, p + "kv_down_proj")                                     # the cached latent
        if mla.get("latent_norm"):                                         # DeepSeek's kv_a_layernorm (eps 1e-6)
            c = norm(c, W[p + "kv_latent_norm.weight"], 1e-6)
        k_nope = lin(c, p + "k_up_proj").view(1, T, nkv, nope).transpose(1, 2)
        v = lin(c, p + "v_up_proj").view(1, T, nkv, dh).transpose(1, 2)
        k_rope = rope(lin(h, p + "k_rope_proj").view(1, T, nr, r2).transpose(1, 2), cos_k, sin_k)
        q = torch.cat([rope(q[..., :r2], cos_q, sin_q), q[..., r2:]], -1)
        k = torch.cat([k_rope.expand(1, nkv, T, r2), k_nope], -1).repeat_interleave(g, 1)
        v = v.repeat_interleave(g, 1)
        o = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(r2 + nope) + causal, -1) @ v
        x = x + lin(o.transpose(1, 2).reshape(1, T, nh * dh), p + "o_proj")
        h = norm(x, W[f"model.layers.{i}.post_attention_layernorm.weight"])
        m = f"model.layers.{i}.mlp."
        x = x + lin(torch.nn.functional.silu(lin(h, m + "gate_proj")) * lin(h, m + "up_proj"), m + "down_proj")
    x = norm(x, W["model.norm.weight"])
    head = W["model.embed_tokens.weight"] if config.get("tie_word_embeddings", False) else W["lm_head.weight"]
    return (x @ head.T)[0]


def perplexity(directory, sequences):
    config = json.load(open(os.path.join(directory, "config.json")))
    W = load_weights(directory)
    nll, count = 0.0, 0
    for seq in sequences:
        out = logits(config, W, seq)[:-1]
        nll += torch.nn.functional.cross_entropy(out, torch.tensor(seq[1:]), reduction="sum").item()
        count += len(seq) - 1
    return math.exp(nll / count), count


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir")
    parser.add_argument("--data", required=True)
    args = parser.parse_args()
    with torch.no_grad():
        ppl, tokens = perplexity(args.dir, json.load(open(args.data)))
    json.dump({"perplexity": ppl, "tokens": tokens}, sys.stdout)
    print()
