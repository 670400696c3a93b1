"""What the plain-PyTorch references share (llama_reference, mla_reference, deepseek_reference),
written once from Hugging Face's conventions and sharing no code with mha2mla: a safetensors reader
and writer, the sharded-checkpoint loader, RMSNorm, rotate_half and the sliding-window layout.
scripts/mla_perplexity.py keeps its own copies on purpose: it is a user's standalone reader.
"""
import json
import math
import os
import struct

import torch

# ---- safetensors ---------------------------------------------------------------------------
DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
NAMES = {v: k for k, v in DTYPES.items()}


# ---- safetensors ---------------------------------------------------------------------------
def save_safetensors(path, tensors, dtype):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.to(dtype).contiguous()
        raw = t.view(torch.int16 if t.element_size() == 2 else torch.int32).numpy().tobytes()
        header[name] = {"dtype": NAMES[dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def write_checkpoint(directory, config, tensors, dtype, shards=1):
    """config.json and the tensors in Hugging Face's layout: one model.safetensors, or `shards`
    files with model.safetensors.index.json."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    names = list(tensors.keys())
    if shards <= 1:
        save_safetensors(os.path.join(directory, "model.safetensors"), tensors, dtype)
        return
    weight_map = {}
    per = math.ceil(len(names) / shards)
    for s in range(shards):
        file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: tensors[n] for n in names[s * per:(s + 1) * per]}
        save_safetensors(os.path.join(directory, file), part, dtype)
        weight_map.update({n: file for n in part})
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2)


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = bytearray(data[8 + n + begin:8 + n + end])
        t = torch.frombuffer(raw, dtype=DTYPES[info["dtype"]]) if raw else torch.empty(0, dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"]).float()
    return out


def load_weights(directory):
    index = os.path.join(directory, "model.safetensors.index.json")
    if os.path.exists(index):
        files = sorted(set(json.load(open(index))["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    weights = {}
    for f in files:
        weights.update(load_safetensors(os.path.join(directory, f)))
    return weights


# ---- the parts every architecture uses -------------------------------------------------------
def layer_windows(config):
    """Each layer's sliding window (None: full causal attention), as transformers configures it."""
    layers, kind = config["num_hidden_layers"], config["model_type"]
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


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rms_norm(x, w, eps):
    # transformers' LlamaRMSNorm: statistics in fp32, narrowed back before the weight.
    wide = x.float()
    return w * (wide * torch.rsqrt(wide.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


def mlp_residual(x, W, prefix, eps):
    """The second half of a Llama-family decoder layer (prefix "model.layers.i."): post-attention
    norm, SwiGLU MLP, residual."""
    def lin(h, name):
        return torch.nn.functional.linear(h, W[name + ".weight"], W.get(name + ".bias"))
    h = rms_norm(x, W[prefix + "post_attention_layernorm.weight"], eps)
    m = prefix + "mlp."
    return x + lin(torch.nn.functional.silu(lin(h, m + "gate_proj")) * lin(h, m + "up_proj"), m + "down_proj")


def head_logits(config, W, x, eps):
    """Final norm and the (tied or own) head: logits (T, vocab) of the first sequence of x."""
    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if config.get("tie_word_embeddings", False) else W["lm_head.weight"]
    return (x @ head.T)[0]
