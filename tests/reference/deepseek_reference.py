#!/usr/bin/env python3
"""A plain-PyTorch dense DeepSeek-V3 (transformers' modeling_deepseek_v3 conventions), for checking
`mha2mla export --format deepseek-v3`. It reads only the export: config.json and the safetensors.

  perplexity DIR --data IDS.json    prints {"perplexity": ..., "tokens": ...}

What it follows: q_proj without LoRA (q_lora_rank null); kv_a_proj_with_mqa gives the latent
(kv_lora_rank) and one shared rope key (qk_rope_head_dim); kv_a_layernorm is an RMSNorm with eps
1e-6 (DeepseekV3RMSNorm's default); kv_b_proj gives each head's position-free key and value;
rope_interleave: the rope dims are stored interleaved and de-interleaved (x.view(..., d/2, 2)
.transpose) before rotate_half RoPE with cos/sin = cat(freqs, freqs); inverse frequencies
1/θ^(2p/d) (default) or 1/(factor_p · θ^(2p/d)) times attention_factor on cos/sin (longrope);
scores scaled by (qk_nope_head_dim + qk_rope_head_dim)^−½; dense SiLU MLPs (every layer below
first_k_dense_replace); RMSNorm(eps rms_norm_eps) before attention, MLP and the head.
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import head_logits, load_weights, mlp_residual, rms_norm, rotate_half  # noqa: E402


def rope_tables(config, T):
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {"rope_type": "default"}
    theta = rope.get("rope_theta", config.get("rope_theta", 10000.0))
    d = config["qk_rope_head_dim"]
    exponent = torch.arange(0, d, 2, dtype=torch.int64).float() / d
    scale = 1.0
    if rope.get("rope_type", "default") == "longrope":
        # short_factor below original_max_position_embeddings, long_factor above
        factors = rope["long_factor"] if T > rope["original_max_position_embeddings"] else rope["short_factor"]
        inv = 1.0 / (torch.tensor(factors, dtype=torch.float32) * theta ** exponent)
        scale = rope.get("attention_factor", 1.0)
    else:
        assert rope.get("rope_type", "default") == "default", rope
        inv = 1.0 / (theta ** exponent)
    freqs = torch.arange(T).float()[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos() * scale, emb.sin() * scale


def logits(config, W, ids):
    d, nh = config["hidden_size"], config["num_attention_heads"]
    nope, rope_d, vd, R = config["qk_nope_head_dim"], config["qk_rope_head_dim"], config["v_head_dim"], config["kv_lora_rank"]
    eps = config.get("rms_norm_eps", 1e-6)
    assert config.get("q_lora_rank") is None and config["first_k_dense_replace"] >= config["num_hidden_layers"]
    scaling = (nope + rope_d) ** -0.5

    def lin(x, name):
        return torch.nn.functional.linear(x, W[name + ".weight"], W.get(name + ".bias"))

    def deinterleave(t):
        b, h, s, k = t.shape
        return t.view(b, h, s, k // 2, 2).transpose(4, 3).reshape(b, h, s, k)

    ids = torch.tensor([ids])
    T = ids.shape[1]
    cos, sin = rope_tables(config, T)
    causal = torch.zeros(T, T).masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    x = W["model.embed_tokens.weight"][ids]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = lin(h, p + "self_attn.q_proj").view(1, T, nh, nope + rope_d).transpose(1, 2)
        q_pass, q_rot = q[..., :nope], q[..., nope:]
        compressed = lin(h, p + "self_attn.kv_a_proj_with_mqa")
        k_pass, k_rot = compressed[..., :R], compressed[..., R:]
        kv = lin(rms_norm(k_pass, W[p + "self_attn.kv_a_layernorm.weight"], 1e-6), p + "self_attn.kv_b_proj")
        kv = kv.view(1, T, nh, nope + vd).transpose(1, 2)
        k_pass, v = kv[..., :nope], kv[..., nope:]
        k_rot = k_rot.view(1, 1, T, rope_d)
        if config.get("rope_interleave", True):
            q_rot, k_rot = deinterleave(q_rot), deinterleave(k_rot)
        q_rot = q_rot * cos + rotate_half(q_rot) * sin
        k_rot = (k_rot * cos + rotate_half(k_rot) * sin).expand(1, nh, T, rope_d)
        qs, ks = torch.cat((q_pass, q_rot), -1), torch.cat((k_pass, k_rot), -1)
        a = torch.softmax(qs @ ks.transpose(2, 3) * scaling + causal, dim=-1) @ v
        x = mlp_residual(x + lin(a.transpose(1, 2).reshape(1, T, nh * vd), p + "self_attn.o_proj"), W, p, eps)
    return head_logits(config, W, x, eps)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("perplexity")
    p.add_argument("dir")
    p.add_argument("--data", required=True)
    args = parser.parse_args()
    config = json.load(open(os.path.join(args.dir, "config.json")))
    assert config["model_type"] == "deepseek_v3", config["model_type"]
    W = load_weights(args.dir)
    nll, count = 0.0, 0
    with torch.no_grad():
        for seq in json.load(open(args.data)):
            out = logits(config, W, seq)[:-1]
            nll += torch.nn.functional.cross_entropy(out, torch.tensor(seq[1:]), reduction="sum").item()
            count += len(seq) - 1
    json.dump({"perplexity": math.exp(nll / count), "tokens": count}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
