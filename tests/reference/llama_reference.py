#!/usr/bin/env python3
"""An independent plain-PyTorch Llama (Llama / Mistral / Qwen2), written from Hugging Face's
modeling_llama.py conventions, that the C# model is checked against. It shares no code with
mha2mla: its own safetensors reader and writer (common.py), its own RoPE, its own attention.

  make DIR --config JSON [--dtype bf16|f32|f16] [--shards N] [--seed S]   random checkpoint
  logits DIR --ids FILE.json --out FILE.f32                              raw fp32 logits
  ppl DIR --data FILE.json                                               {"perplexity", "tokens"}
  ids FILE.json --count N --length L --vocab V [--seed S]                random token ids
  grads DIR --ids FILE.json --out FILE.safetensors                       d(mean next-token loss)/d(weights)
  adamw FILE.safetensors --steps K --lr LR --weight-decay WD --out FILE    torch.optim.AdamW on saved params/grads
  train DIR --data FILE.json --steps N --batch B --lr LR [--threads T]   plain training loop (benchmark)
"""
import argparse
import json
import math
import os
import sys

import torch

from common import DTYPES, NAMES, layer_windows, load_safetensors, load_weights, rms_norm, rotate_half, save_safetensors, write_checkpoint  # noqa: F401 (re-exported)


# ---- random checkpoint ---------------------------------------------------------------------
def make_checkpoint(directory, config, dtype, shards, seed):
    torch.manual_seed(seed)
    d, v = config["hidden_size"], config["vocab_size"]
    nh, nkv = config["num_attention_heads"], config.get("num_key_value_heads", config["num_attention_heads"])
    dh = config.get("head_dim") or d // nh
    ff = config["intermediate_size"]
    qkv_bias = config["model_type"] == "qwen2" or config.get("attention_bias", False)
    o_bias = config["model_type"] == "llama" and config.get("attention_bias", False)

    def w(*shape):
        return torch.randn(*shape) * 0.08

    t = {"model.embed_tokens.weight": w(v, d)}
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(d)
        t[p + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(d)
        for name, rows, cols in [("q_proj", nh * dh, d), ("k_proj", nkv * dh, d), ("v_proj", nkv * dh, d), ("o_proj", d, nh * dh)]:
            t[p + f"self_attn.{name}.weight"] = w(rows, cols)
            if (name != "o_proj" and qkv_bias) or (name == "o_proj" and o_bias):
                t[p + f"self_attn.{name}.bias"] = w(rows)
        t[p + "mlp.gate_proj.weight"] = w(ff, d)
        t[p + "mlp.up_proj.weight"] = w(ff, d)
        t[p + "mlp.down_proj.weight"] = w(d, ff)
    t["model.norm.weight"] = 1 + 0.1 * torch.randn(d)
    if not config.get("tie_word_embeddings", False):
        t["lm_head.weight"] = w(v, d)

    write_checkpoint(directory, config, t, dtype, shards)


# ---- the model -----------------------------------------------------------------------------
def rope_parameters(config):
    """RoPE settings as transformers 5 standardizes them (RotaryEmbeddingConfigMixin): the v4
    `rope_scaling` dict if set, else the v5 `rope_parameters` dict; `rope_theta` from inside it,
    else the top-level field, else 10000; `type` is the old name of `rope_type`; llama3 and yarn
    take `original_max_position_embeddings` from the top level if it is there, else from the
    dict, else max_position_embeddings."""
    params = dict(config.get("rope_scaling") or config.get("rope_parameters") or {})
    params.setdefault("rope_theta", config.get("rope_theta", 10000.0))
    params.setdefault("rope_type", params.get("type", "default"))
    if params["rope_type"] in ("llama3", "yarn"):
        if "original_max_position_embeddings" in config:
            params["original_max_position_embeddings"] = config["original_max_position_embeddings"]
        params.setdefault("original_max_position_embeddings", config.get("max_position_embeddings", 2048))
    return params


def inverse_frequencies(config, dh, seq_len=0):
    """(inverse frequencies, attention factor) for a sequence of seq_len tokens, after
    modeling_rope_utils.py's rules for each rope_type."""
    p = rope_parameters(config)
    kind, base = p["rope_type"], p["rope_theta"]
    exponents = torch.arange(0, dh, 2, dtype=torch.int64).float() / dh
    inv = 1.0 / (base ** exponents)
    if kind == "default":
        return inv, 1.0
    if kind == "linear":
        return inv / p["factor"], 1.0
    if kind == "dynamic":
        # NTK: inside the trained length nothing changes; past it the base grows with the length.
        max_pos = config.get("max_position_embeddings", 2048)
        length = max(seq_len, max_pos)
        grown = base * ((p["factor"] * length / max_pos) - (p["factor"] - 1)) ** (dh / (dh - 2))
        return 1.0 / (grown ** exponents), 1.0
    if kind == "llama3":
        factor, low, high = p["factor"], p["low_freq_factor"], p["high_freq_factor"]
        old = p["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / low, old / high
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        return torch.where(medium, smoothed, scaled), 1.0
    if kind == "yarn":
        factor, original = p["factor"], p["original_max_position_embeddings"]

        def mscale(scale, m=1.0):
            return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

        attention = p.get("attention_factor")
        if attention is None:
            if p.get("mscale") and p.get("mscale_all_dim"):
                attention = mscale(factor, p["mscale"]) / mscale(factor, p["mscale_all_dim"])
            else:
                attention = mscale(factor)
        beta_fast, beta_slow = p.get("beta_fast") or 32, p.get("beta_slow") or 1

        def dim_for(rotations):
            return dh * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(base))

        low, high = dim_for(beta_fast), dim_for(beta_slow)
        if p.get("truncate", True):
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, dh - 1)
        if low == high:
            high += 0.001
        ramp = ((torch.arange(dh // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)
        keep = 1 - ramp                      # 1: extrapolate (keep the frequency), 0: interpolate
        positions = base ** (torch.arange(0, dh, 2).float() / dh)
        return (1.0 / (factor * positions)) * (1 - keep) + (1.0 / positions) * keep, attention
    raise ValueError(kind)


def forward(config, W, ids, attention="eager"):
    """attention: "eager" (explicit softmax, the reference every test compares against) or "sdpa"
    (torch's scaled_dot_product_attention, transformers' default attention on PyTorch 2.x; the
    benchmarks' anchor there)."""
    d = config["hidden_size"]
    nh = config["num_attention_heads"]
    nkv = config.get("num_key_value_heads", nh)
    dh = config.get("head_dim") or d // nh
    eps = config.get("rms_norm_eps", 1e-6)
    B, T = ids.shape
    inv, attention_factor = inverse_frequencies(config, dh, T)
    freqs = torch.arange(T).float()[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos() * attention_factor, emb.sin() * attention_factor
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    biases = {}
    for window in set(layer_windows(config)):
        allowed = causal if window is None else causal & torch.ones(T, T, dtype=torch.bool).triu(-(window - 1))
        biases[window] = torch.zeros(T, T).masked_fill(~allowed, float("-inf"))

    def lin(x, name):
        return torch.nn.functional.linear(x, W[name + ".weight"], W.get(name + ".bias"))

    x = W["model.embed_tokens.weight"][ids]
    # Weights in bf16 compute in bf16 (transformers' torch_dtype): RoPE tables made in fp32 and
    # narrowed, softmax in fp32 (eager attention), masks as the dtype's most negative value.
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    biases = {w: b.clamp(min=torch.finfo(x.dtype).min).to(x.dtype) for w, b in biases.items()}
    windows = layer_windows(config)
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        bias = biases[windows[i]]
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = lin(h, p + "self_attn.q_proj").view(B, T, nh, dh).transpose(1, 2)
        k = lin(h, p + "self_attn.k_proj").view(B, T, nkv, dh).transpose(1, 2)
        v = lin(h, p + "self_attn.v_proj").view(B, T, nkv, dh).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
        if attention == "sdpa":
            # As transformers' sdpa_attention_forward: is_causal and no mask when none is needed.
            plain = windows[i] is None
            a = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=None if plain else bias, is_causal=plain)
        else:
            a = torch.softmax(q @ k.transpose(2, 3) * dh ** -0.5 + bias, dim=-1, dtype=torch.float32).to(q.dtype) @ v
        x = x + lin(a.transpose(1, 2).reshape(B, T, nh * dh), p + "self_attn.o_proj")
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        gate = torch.nn.functional.silu(lin(h, p + "mlp.gate_proj"))
        x = x + lin(gate * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if config.get("tie_word_embeddings", False) else W["lm_head.weight"]
    return (x @ head.T).float()


def next_token_loss(config, W, ids, attention="eager"):
    logits = forward(config, W, ids, attention)[:, :-1]
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def load(directory, dtype="f32"):
    config = json.load(open(os.path.join(directory, "config.json")))
    cast = {"f32": torch.float32, "bf16": torch.bfloat16}[dtype]
    return config, {name: t.to(cast) for name, t in load_weights(directory).items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("make")
    make.add_argument("dir")
    make.add_argument("--config", required=True)
    make.add_argument("--dtype", default="bf16", choices=["bf16", "f32", "f16"])
    make.add_argument("--shards", type=int, default=1)
    make.add_argument("--seed", type=int, default=0)
    logits = sub.add_parser("logits")
    logits.add_argument("dir")
    logits.add_argument("--ids", required=True)
    logits.add_argument("--out", required=True)
    logits.add_argument("--dtype", default="f32", choices=["bf16", "f32"], help="compute dtype: the weights are cast to it")
    ppl = sub.add_parser("ppl")
    ppl.add_argument("dir")
    ppl.add_argument("--data", required=True)
    ppl.add_argument("--threads", type=int, default=0)
    ppl.add_argument("--dtype", default="f32", choices=["bf16", "f32"], help="compute dtype: the weights are cast to it")
    ids = sub.add_parser("ids")
    ids.add_argument("file")
    ids.add_argument("--count", type=int, required=True)
    ids.add_argument("--length", type=int, required=True)
    ids.add_argument("--vocab", type=int, required=True)
    ids.add_argument("--seed", type=int, default=0)
    grads = sub.add_parser("grads")
    grads.add_argument("dir")
    grads.add_argument("--ids", required=True)
    grads.add_argument("--out", required=True)
    adamw = sub.add_parser("adamw")
    adamw.add_argument("file")
    adamw.add_argument("--steps", type=int, required=True)
    adamw.add_argument("--lr", type=float, required=True)
    adamw.add_argument("--weight-decay", type=float, required=True)
    adamw.add_argument("--out", required=True)
    train = sub.add_parser("train")
    train.add_argument("dir")
    train.add_argument("--data", required=True)
    train.add_argument("--steps", type=int, required=True)
    train.add_argument("--batch", type=int, required=True)
    train.add_argument("--lr", type=float, default=1e-4)
    train.add_argument("--threads", type=int, default=0)
    train.add_argument("--dtype", default="f32", choices=["bf16", "f32"], help="bf16: fp32 weights, forward under CPU autocast")
    for benchmarked in (logits, ppl, train):
        benchmarked.add_argument("--attention", default="eager", choices=["eager", "sdpa"],
                                 help="sdpa: torch's scaled_dot_product_attention, as transformers on PyTorch 2.x")
    args = parser.parse_args()

    if args.command == "make":
        dtype = {"bf16": torch.bfloat16, "f32": torch.float32, "f16": torch.float16}[args.dtype]
        make_checkpoint(args.dir, json.loads(args.config), dtype, args.shards, args.seed)
    elif args.command == "ids":
        generator = torch.Generator().manual_seed(args.seed)
        values = torch.randint(0, args.vocab, (args.count, args.length), generator=generator)
        with open(args.file, "w") as f:
            json.dump(values.tolist(), f)
    elif args.command == "grads":
        config, W = load(args.dir)
        for t in W.values():
            t.requires_grad_(True)
        ids = torch.tensor(json.load(open(args.ids)), dtype=torch.long)
        next_token_loss(config, W, ids).backward()
        save_safetensors(args.out, {name: t.grad for name, t in W.items()}, torch.float32)
    elif args.command == "adamw":
        # Params are "param.NAME", grads "grad.NAME"; decay only matrices, as mha2mla does.
        tensors = load_safetensors(args.file)
        names = [n[len("param."):] for n in tensors if n.startswith("param.")]
        params = {n: tensors["param." + n].clone().requires_grad_(True) for n in names}
        groups = [{"params": [params[n] for n in names if params[n].dim() >= 2], "weight_decay": args.weight_decay},
                  {"params": [params[n] for n in names if params[n].dim() < 2], "weight_decay": 0.0}]
        optimizer = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
        for _ in range(args.steps):
            for n in names:
                params[n].grad = tensors["grad." + n].clone()
            optimizer.step()
        save_safetensors(args.out, {n: params[n].detach() for n in names}, torch.float32)
    elif args.command == "train":
        import time
        if args.threads:
            torch.set_num_threads(args.threads)
        config, W = load(args.dir)
        params = list(W.values())
        for t in params:
            t.requires_grad_(True)
        optimizer = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.01)
        sequences = json.load(open(args.data))
        tokens, start = 0, time.perf_counter()
        for step in range(args.steps):
            batch = [sequences[(step * args.batch + i) % len(sequences)] for i in range(args.batch)]
            ids = torch.tensor(batch, dtype=torch.long)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.dtype == "bf16"):
                loss = next_token_loss(config, W, ids, args.attention)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            tokens += ids.numel() - ids.shape[0]
        seconds = time.perf_counter() - start
        json.dump({"steps": args.steps, "final_loss": loss.item(), "tokens": tokens, "seconds": seconds,
                   "tokens_per_second": tokens / seconds}, sys.stdout)
        print()
    elif args.command == "logits":
        config, W = load(args.dir, args.dtype)
        ids = torch.tensor(json.load(open(args.ids)), dtype=torch.long)
        with torch.no_grad():
            out = forward(config, W, ids, args.attention)
        out.contiguous().numpy().astype("<f4").tofile(args.out)
    elif args.command == "ppl":
        import time
        if args.threads:
            torch.set_num_threads(args.threads)
        config, W = load(args.dir, args.dtype)
        sequences = json.load(open(args.data))
        nll, tokens = 0.0, 0
        start = time.perf_counter()
        with torch.no_grad():
            for s in sequences:
                ids = torch.tensor([s], dtype=torch.long)
                logits = forward(config, W, ids, args.attention)[0, :-1]
                nll += torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="sum").item()
                tokens += len(s) - 1
        seconds = time.perf_counter() - start
        json.dump({"perplexity": math.exp(nll / tokens), "tokens": tokens, "seconds": seconds,
                   "tokens_per_second": tokens / seconds}, sys.stdout)
        print()


if __name__ == "__main__":
    main()
