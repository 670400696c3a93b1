#!/usr/bin/env python3
"""A plain-PyTorch dense DeepSeek-V3 (transformers' modeling_deepseek_v3 conventions): it checks
`mha2mla export --format deepseek-v3` (reading only the export: config.json and the safetensors)
and, writing its own random checkpoints, mha2mla's reading of DeepSeek-V3.

  make DIR --config JSON [--dtype bf16|f32] [--shards N] [--seed S]   a random dense DeepSeek-V3
  perplexity DIR --data IDS.json                                    prints {"perplexity": ..., "tokens": ...}
  generate DIR --prompts IDS.json --max-new-tokens N                greedy; prints {"tokens": [[...], ...]} (new ids only)

What it follows: q_proj, or with q_lora_rank q_b_proj(RMSNorm(q_a_proj(x))) (q_a_layernorm eps
1e-6); kv_a_proj_with_mqa gives the latent (kv_lora_rank) and one shared rope key
(qk_rope_head_dim); kv_a_layernorm is an RMSNorm with eps 1e-6 (DeepseekV3RMSNorm's default);
kv_b_proj gives each head's position-free key and value; rope_interleave: the rope dims are
stored interleaved and de-interleaved (x.view(..., d/2, 2).transpose) before rotate_half RoPE
with cos/sin = cat(freqs, freqs); inverse frequencies over qk_rope_head_dim dims: default and
yarn as llama_reference.py computes them (yarn's attention factor on cos/sin), longrope
1/(factor_p · θ^(2p/d)) times attention_factor; scores scaled by (qk_nope_head_dim +
qk_rope_head_dim)^−½, times yarn_get_mscale(factor, mscale_all_dim)² where the rope settings
give mscale_all_dim; dense SiLU MLPs (every layer below first_k_dense_replace); RMSNorm(eps
rms_norm_eps) before attention, MLP and the head. attention_bias is not followed (asserted false).
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import head_logits, load_weights, mlp_residual, rms_norm, rotate_half, write_checkpoint  # noqa: E402
from llama_reference import inverse_frequencies, rope_parameters  # noqa: E402


def make_checkpoint(directory, config, dtype, shards, seed):
    torch.manual_seed(seed)
    d, v, nh, ff = config["hidden_size"], config["vocab_size"], config["num_attention_heads"], config["intermediate_size"]
    nope, rope_d, vd, R, qr = (config["qk_nope_head_dim"], config["qk_rope_head_dim"], config["v_head_dim"], config["kv_lora_rank"],
                               config.get("q_lora_rank"))

    def w(*shape):
        return torch.randn(*shape) * 0.08

    def norm(n):
        return 1 + 0.1 * torch.randn(n)

    t = {"model.embed_tokens.weight": w(v, d)}
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = norm(d)
        if qr is None:
            t[p + "self_attn.q_proj.weight"] = w(nh * (nope + rope_d), d)
        else:
            t[p + "self_attn.q_a_proj.weight"] = w(qr, d)
            t[p + "self_attn.q_a_layernorm.weight"] = norm(qr)
            t[p + "self_attn.q_b_proj.weight"] = w(nh * (nope + rope_d), qr)
        t[p + "self_attn.kv_a_proj_with_mqa.weight"] = w(R + rope_d, d)
        t[p + "self_attn.kv_a_layernorm.weight"] = norm(R)
        t[p + "self_attn.kv_b_proj.weight"] = w(nh * (nope + vd), R)
        t[p + "self_attn.o_proj.weight"] = w(d, nh * vd)
        t[p + "post_attention_layernorm.weight"] = norm(d)
        t[p + "mlp.gate_proj.weight"] = w(ff, d)
        t[p + "mlp.up_proj.weight"] = w(ff, d)
        t[p + "mlp.down_proj.weight"] = w(d, ff)
    t["model.norm.weight"] = norm(d)
    if not config.get("tie_word_embeddings", False):
        t["lm_head.weight"] = w(v, d)
    write_checkpoint(directory, config, t, dtype, shards)


def rope_tables(config, T):
    rope = rope_parameters(config)
    d = config["qk_rope_head_dim"]
    if rope["rope_type"] == "longrope":
        # short_factor below original_max_position_embeddings, long_factor above
        exponent = torch.arange(0, d, 2, dtype=torch.int64).float() / d
        factors = rope["long_factor"] if T > rope["original_max_position_embeddings"] else rope["short_factor"]
        inv = 1.0 / (torch.tensor(factors, dtype=torch.float32) * rope["rope_theta"] ** exponent)
        scale = rope.get("attention_factor", 1.0)
    else:
        assert rope["rope_type"] in ("default", "yarn"), rope
        inv, scale = inverse_frequencies(config, d, T)
    freqs = torch.arange(T).float()[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos() * scale, emb.sin() * scale


def softmax_scale(config):
    """(qk_nope + qk_rope)^−½, times yarn_get_mscale(factor, mscale_all_dim)² where the rope settings give mscale_all_dim."""
    scale = (config["qk_nope_head_dim"] + config["qk_rope_head_dim"]) ** -0.5
    rope = rope_parameters(config)
    m, factor = rope.get("mscale_all_dim") or 0, rope.get("factor", 1.0)
    if m and factor > 1:
        mscale = 0.1 * m * math.log(factor) + 1.0
        scale *= mscale * mscale
    return scale


def logits(config, W, ids):
    d, nh = config["hidden_size"], config["num_attention_heads"]
    nope, rope_d, vd, R = config["qk_nope_head_dim"], config["qk_rope_head_dim"], config["v_head_dim"], config["kv_lora_rank"]
    eps = config.get("rms_norm_eps", 1e-6)
    assert config["first_k_dense_replace"] >= config["num_hidden_layers"] and not config.get("attention_bias", False)
    scaling = softmax_scale(config)

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
        if config.get("q_lora_rank") is None:
            q = lin(h, p + "self_attn.q_proj")
        else:
            q = lin(rms_norm(lin(h, p + "self_attn.q_a_proj"), W[p + "self_attn.q_a_layernorm.weight"], 1e-6), p + "self_attn.q_b_proj")
        q = q.view(1, T, nh, nope + rope_d).transpose(1, 2)
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
    m = sub.add_parser("make")
    m.add_argument("dir")
    m.add_argument("--config", required=True)
    m.add_argument("--dtype", default="bf16", choices=["bf16", "f32"])
    m.add_argument("--shards", type=int, default=1)
    m.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("perplexity")
    p.add_argument("dir")
    p.add_argument("--data", required=True)
    g = sub.add_parser("generate")
    g.add_argument("dir")
    g.add_argument("--prompts", required=True)
    g.add_argument("--max-new-tokens", type=int, required=True)
    args = parser.parse_args()
    if args.command == "make":
        make_checkpoint(args.dir, json.loads(args.config), {"bf16": torch.bfloat16, "f32": torch.float32}[args.dtype], args.shards, args.seed)
        return
    config = json.load(open(os.path.join(args.dir, "config.json")))
    assert config["model_type"] == "deepseek_v3", config["model_type"]
    W = {name: t.float() for name, t in load_weights(args.dir).items()}
    with torch.no_grad():
        if args.command == "perplexity":
            nll, count = 0.0, 0
            for seq in json.load(open(args.data)):
                out = logits(config, W, seq)[:-1]
                nll += torch.nn.functional.cross_entropy(out, torch.tensor(seq[1:]), reduction="sum").item()
                count += len(seq) - 1
            json.dump({"perplexity": math.exp(nll / count), "tokens": count}, sys.stdout)
        else:
            # Greedy, the whole sequence again at every step: no cache to get wrong.
            results = []
            for prompt in json.load(open(args.prompts)):
                seq = list(prompt)
                for _ in range(args.max_new_tokens):
                    seq.append(int(logits(config, W, seq)[-1].argmax()))
                results.append(seq[len(prompt):])
            json.dump({"tokens": results}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
