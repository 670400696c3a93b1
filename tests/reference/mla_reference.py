#!/usr/bin/env python3
"""An independent plain-PyTorch implementation of docs/design.md (The math), for checking `mha2mla convert`.

It never reads mha2mla's output. From the ORIGINAL checkpoint it chooses the RoPE pairs
(high / low / uniform / 2-norm on calibration sequences), then evaluates the model the design
says conversion must equal: the original with W_k,nope and W_v replaced by their rank-R
reconstruction (joint or split SVD, in float64) and RoPE applied only on the kept pairs.

  convert DIR --strategy S --pairs R --kv-rank D --svd joint|split|activation --eval FILE.json [--calib FILE.json]
      (--strategy rorope [--fold F]: RoRoPE, n_kv * R pairs in one shared rope head; see rorope_logits)
      prints {"pairs": [[[k...]...]...], "perplexity": ..., "latent_dims": null}
      (--kv-budget B instead of --kv-rank: per-layer widths by an exact dynamic programme over
      the layers' singular values, printed as latent_dims)
      (--logits-ids F --logits-out O: also the logits of those sequences, raw float32)
  latent-rms DIR MLA_DIR --calib FILE.json
      per layer, the RMS of MLA_DIR's latent over DIR's calibration inputs (the latent norm's initial weight)
  grads MLA_DIR --ids FILE.json --out GRADS.safetensors
      gradients of the mean next-token loss of a converted checkpoint, through the MLA form as
      scripts/mla_perplexity.py computes it (not through mha2mla)
"""
import argparse
import json
import math
import os
import sys

import torch

from common import head_logits, mlp_residual
from llama_reference import inverse_frequencies, load, rms_norm, rotate_half, save_safetensors


def dims(config):
    nh = config["num_attention_heads"]
    nkv = config.get("num_key_value_heads", nh)
    dh = config.get("head_dim") or config["hidden_size"] // nh
    return nh, nkv, dh


def fixed_pairs(strategy, dh, r):
    half = dh // 2
    if strategy == "high":
        return list(range(r))
    if strategy == "low":
        return list(range(half - r, half))
    if strategy == "uniform":
        return [i * half // r for i in range(r)]
    raise ValueError(strategy)


def layer_forward(config, W, i, x, cos, sin, bias, rope_mask=None):
    """One decoder layer; rope_mask (n_h or n_kv, d_h) marks rotated dims (None: all). Returns (out, q, k, h) with q, k before RoPE
    and h the normed input of the attention projections."""
    nh, nkv, dh = dims(config)
    eps = config.get("rms_norm_eps", 1e-6)
    B, T, _ = x.shape
    p = f"model.layers.{i}."

    def lin(h, name):
        return torch.nn.functional.linear(h, W[name + ".weight"], W.get(name + ".bias"))

    h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
    q = lin(h, p + "self_attn.q_proj").view(B, T, nh, dh).transpose(1, 2)
    k = lin(h, p + "self_attn.k_proj").view(B, T, nkv, dh).transpose(1, 2)
    v = lin(h, p + "self_attn.v_proj").view(B, T, nkv, dh).transpose(1, 2)
    q_raw, k_raw, h_in = q, k, h

    def rope(t, mask):
        rotated = t * cos + rotate_half(t) * sin
        if mask is None:
            return rotated
        m = mask[None, :, None, :]
        return m * rotated + (1 - m) * t

    g = nh // nkv
    q = rope(q, None if rope_mask is None else rope_mask.repeat_interleave(g, dim=0))
    k = rope(k, rope_mask)
    k = k.repeat_interleave(g, dim=1)
    v = v.repeat_interleave(g, dim=1)
    a = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(dh) + bias, dim=-1) @ v
    x = x + lin(a.transpose(1, 2).reshape(B, T, nh * dh), p + "self_attn.o_proj")
    h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
    x = x + lin(torch.nn.functional.silu(lin(h, p + "mlp.gate_proj")) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
    return x, q_raw, k_raw, h_in


def tables(config, T):
    _, _, dh = dims(config)
    inv, attention_factor = inverse_frequencies(config, dh, T)
    freqs = torch.arange(T).float()[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    bias = torch.zeros(T, T).masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    return emb.cos() * attention_factor, emb.sin() * attention_factor, bias


def calibration_pass(config, W, calib):
    """The original model over the calibration sequences: yields (layer, q, k, h) per sequence and
    layer, q and k before RoPE, h the normed input of the attention projections."""
    for seq in calib:
        ids = torch.tensor([seq])
        cos, sin, bias = tables(config, len(seq))
        x = W["model.embed_tokens.weight"][ids]
        for i in range(config["num_hidden_layers"]):
            x, q, k, h = layer_forward(config, W, i, x, cos, sin, bias)
            yield i, q, k, h


def two_norm_pairs(config, W, calib, r, shared=False, combine="product"):
    nh, nkv, dh = dims(config)
    half, g = dh // 2, nh // nkv
    L = config["num_hidden_layers"]
    q_sum = torch.zeros(L, nh, half, dtype=torch.float64)
    k_sum = torch.zeros(L, nkv, half, dtype=torch.float64)
    tokens = sum(len(seq) for seq in calib)
    for i, q, k, _ in calibration_pass(config, W, calib):
        q_sum[i] += (q[..., :half] ** 2 + q[..., half:] ** 2).sqrt().double().sum(dim=(0, 2))
        k_sum[i] += (k[..., :half] ** 2 + k[..., half:] ** 2).sqrt().double().sum(dim=(0, 2))
    def layer_score(i, j):
        # Each query head h of the group scores pair k with the group's key; the group's scores add up.
        q_mean, k_mean = q_sum[i, j * g:(j + 1) * g] / tokens, k_sum[i, j] / tokens
        per_head = q_mean + k_mean if combine == "sum" else q_mean * k_mean
        return per_head.sum(0)
    pairs = []
    for i in range(L):
        layer = []
        for j in range(nkv):
            # shared: one choice for every layer, by the score summed over layers
            score = sum(layer_score(l, j) for l in range(L)) if shared else layer_score(i, j)
            order = sorted(range(half), key=lambda kk: (-score[kk].item(), kk))
            layer.append(sorted(order[:r]))
        pairs.append(layer)
    return pairs


def input_covariances(config, W, calib):
    """X^T X / n of each layer's normed attention inputs over all calibration tokens (the original model)."""
    d = config["hidden_size"]
    C = [torch.zeros(d, d, dtype=torch.float64) for _ in range(config["num_hidden_layers"])]
    for i, _, _, h in calibration_pass(config, W, calib):
        X = h[0].double()
        C[i] += X.T @ X
    tokens = sum(len(seq) for seq in calib)
    return [c / tokens for c in C]


def activation_aware(m, C, r, damping):
    """The rank-r matrix closest to m in ||(m - a) X^T||_F, X the inputs with X^T X / n = C:
    whiten by the Cholesky factor S of the damped C, truncate the SVD, unwhiten."""
    C = C + damping * torch.diagonal(C).mean() * torch.eye(C.shape[0], dtype=torch.float64)
    S = torch.linalg.cholesky(C)
    u, s, vh = torch.linalg.svd(m.double() @ S, full_matrices=False)
    return (u[:, :r] * s[:r]) @ vh[:r] @ torch.linalg.inv(S)


def mean_rotations(config, W, calib):
    """RoPE compensation's factors, per layer, KV head and pair p: the mean over every calibration
    query s of the group's query heads of sum_t a(s, t) cos(theta_p (t - s)) (C) and ... sin(...)
    (S), a the original attention's weights. Plain RoPE only (theta_p = base^(-2p/d_h))."""
    nh, nkv, dh = dims(config)
    half, g, L = dh // 2, nh // nkv, config["num_hidden_layers"]
    theta = config.get("rope_theta", 10000.0) ** (-torch.arange(0, half, dtype=torch.float64) * 2 / dh)
    C = torch.zeros(L, nkv, half, dtype=torch.float64)
    S = torch.zeros(L, nkv, half, dtype=torch.float64)
    queries = 0
    for i, q, k, _ in calibration_pass(config, W, calib):
        T = q.shape[2]
        cos, sin, bias = tables(config, T)
        qr, kr = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        a = torch.softmax(qr @ kr.repeat_interleave(g, dim=1).transpose(2, 3) / math.sqrt(dh) + bias, dim=-1)[0].double()  # (n_h, T, T)
        delta = torch.arange(T, dtype=torch.float64)[None, :] - torch.arange(T, dtype=torch.float64)[:, None]             # t - s
        for j in range(nkv):
            w = a[j * g:(j + 1) * g].sum(0)                                                                               # (T, T)
            for p in range(half):
                C[i, j, p] += (w * torch.cos(theta[p] * delta)).sum()
                S[i, j, p] += (w * torch.sin(theta[p] * delta)).sum()
        if i == 0:
            queries += g * T
    return C / queries, S / queries


def compensate(W, config, pairs, C, S):
    """Each dropped pair p of each KV head: its key rows (a, b) become (C a - S b, S a + C b)."""
    _, nkv, dh = dims(config)
    half = dh // 2
    W = dict(W)
    for i, layer in enumerate(pairs):
        name = f"model.layers.{i}.self_attn.k_proj."
        wk = W[name + "weight"].clone().double()
        bk = W[name + "bias"].clone().double() if name + "bias" in W else None
        for j in range(nkv):
            for p in range(half):
                if p in layer[j]:
                    continue
                a, b, c, s_ = j * dh + p, j * dh + p + half, C[i, j, p], S[i, j, p]
                wk[a], wk[b] = c * wk[a] - s_ * wk[b], s_ * wk[a] + c * wk[b]
                if bk is not None:
                    bk[a], bk[b] = c * bk[a] - s_ * bk[b], s_ * bk[a] + c * bk[b]
        W[name + "weight"] = wk.float()
        if bk is not None:
            W[name + "bias"] = bk.float()
    return W


def balance_factors(config, W, pairs, covariances):
    """K/V balancing: per layer, alpha = ||W_k,nope X^T||_F / ||W_v X^T||_F over the calibration
    inputs X (X^T X / n = C), so that W_k,nope / alpha and W_v have equal norm on them."""
    alphas = []
    for i, C in enumerate(covariances):
        k, v = kv_matrices(W, config, pairs, i)
        alphas.append(math.sqrt(torch.trace(k @ C @ k.T).item() / torch.trace(v @ C @ v.T).item()))
    return alphas


def low_rank(W, config, pairs, rank, svd, covariances=None, damping=1e-3, widths=None, alphas=None):
    """Replace W_k's position-free rows and W_v by their rank-R reconstruction, layer by layer
    (R = n_kv * rank, or widths[i] per layer). With alphas (K/V balancing) the keys are
    reconstructed as alpha * lowrank(W_k,nope / alpha; W_v): the query rows carry alpha, so every
    score is the balanced MLA's."""
    nh, nkv, dh = dims(config)
    half = dh // 2
    W = dict(W)
    for i, layer in enumerate(pairs):
        R = widths[i] if widths else nkv * rank
        p = f"model.layers.{i}.self_attn."
        wk, wv = W[p + "k_proj.weight"].clone(), W[p + "v_proj.weight"]
        nope = [j * dh + d for j in range(nkv) for d in range(dh) if d % half not in layer[j]]
        alpha = alphas[i] if alphas else 1.0
        wk[nope] = wk[nope] / alpha

        def truncate(m, r):
            u, s, vh = torch.linalg.svd(m.double(), full_matrices=False)
            return (u[:, :r] * s[:r]) @ vh[:r]

        if svd == "activation":
            approx = activation_aware(torch.cat([wk[nope], wv]), covariances[i], R, damping)
            wk_nope, wv_new = approx[:len(nope)], approx[len(nope):]
        elif svd == "joint":
            approx = truncate(torch.cat([wk[nope], wv]), R)
            wk_nope, wv_new = approx[:len(nope)], approx[len(nope):]
        else:
            wk_nope, wv_new = truncate(wk[nope], R // 2), truncate(wv, R // 2)
        wk[nope] = wk_nope.float() * alpha
        W[p + "k_proj.weight"] = wk
        W[p + "v_proj.weight"] = wv_new.float()
    return W


def kv_matrices(W, config, pairs, i):
    """Layer i's position-free key rows and value rows (original row order), fp64."""
    _, nkv, dh = dims(config)
    p = f"model.layers.{i}.self_attn."
    nope = [j * dh + d for j in range(nkv) for d in range(dh) if d % (dh // 2) not in pairs[i][j]]
    return W[p + "k_proj.weight"][nope].double(), W[p + "v_proj.weight"].double()


def budget_widths(config, W, pairs, svd, total, covariances=None, damping=1e-3, alphas=None):
    """The per-layer latent widths (steps of n_kv; split: 2 n_kv, half to keys, half to values)
    whose kept squared singular values are largest in sum for `total` latent elements: an exact
    dynamic programme over layers, each layer at least one step (no greedy)."""
    _, nkv, _ = dims(config)
    step = 2 * nkv if svd == "split" else nkv
    kept = []   # kept[i][s]: energy kept by layer i at s steps
    for i in range(config["num_hidden_layers"]):
        k, v = kv_matrices(W, config, pairs, i)
        if alphas:
            k = k / alphas[i]
        if svd == "split":
            sk, sv = torch.linalg.svdvals(k) ** 2, torch.linalg.svdvals(v) ** 2
            n = min(len(sk), len(sv)) // nkv
            kept.append([sk[:s * nkv].sum().item() + sv[:s * nkv].sum().item() for s in range(n + 1)])
        else:
            m = torch.cat([k, v])
            if svd == "activation":
                C = covariances[i] + damping * torch.diagonal(covariances[i]).mean() * torch.eye(m.shape[1], dtype=torch.float64)
                m = m @ torch.linalg.cholesky(C)
            s2 = torch.linalg.svdvals(m) ** 2
            kept.append([s2[:s * nkv].sum().item() for s in range(len(s2) // nkv + 1)])
    steps = total // step
    best = {0: (0.0, [])}   # steps used so far -> (energy kept, steps per layer)
    for layer in kept:
        nxt = {}
        for used, (energy, chosen) in best.items():
            for s in range(1, len(layer)):
                if used + s <= steps and (used + s not in nxt or energy + layer[s] > nxt[used + s][0]):
                    nxt[used + s] = (energy + layer[s], chosen + [s])
        best = nxt
    energy, chosen = best[steps]
    lost = sum(layer[-1] for layer in kept) - energy
    return [s * step for s in chosen], lost


def rorope_analysis(config, W, calib, keep, fold):
    """RoRoPE (TransMLA) from its definition: per layer and group of `fold` adjacent pairs, the
    second moment over the calibration tokens of the group's pair vectors across KV heads (the keys
    before RoPE, bias removed), both coordinates pooled. Returns per layer the `keep` groups with the
    largest leading eigenvalue, ascending, and each group's leading eigenvector (ordered j, then p)."""
    _, nkv, dh = dims(config)
    half, L = dh // 2, config["num_hidden_layers"]
    groups = half // fold
    moments = torch.zeros(L, groups, nkv * fold, nkv * fold, dtype=torch.float64)
    for i, _, k, _ in calibration_pass(config, W, calib):
        bias = W.get(f"model.layers.{i}.self_attn.k_proj.bias")
        if bias is not None:
            k = k - bias.view(1, nkv, 1, dh)
        k = k[0].double()                                                   # (n_kv, T, d_h)
        for g in range(groups):
            ps = list(range(g * fold, (g + 1) * fold))
            for offset in (0, half):
                v = torch.stack([k[j, :, p + offset] for j in range(nkv) for p in ps], dim=1)   # (T, n)
                moments[i, g] += v.T @ v
    result = []
    for i in range(L):
        leading, top = [], []
        for g in range(groups):
            values, vectors = torch.linalg.eigh(moments[i, g])
            top.append(values[-1].item())
            leading.append(vectors[:, -1])
        order = sorted(range(groups), key=lambda gg: (-top[gg], gg))
        chosen = sorted(order[:keep])
        result.append((chosen, {g: leading[g] for g in chosen}))
    return result


def rorope_projection(config, analysis_layer, fold):
    """P (n_kv d_h square): the part of every key that the shared rope head carries, sum over the
    kept groups and both coordinates of u u^T on the group's rows; the position-free keys are (I - P) k."""
    _, nkv, dh = dims(config)
    half = dh // 2
    P = torch.zeros(nkv * dh, nkv * dh, dtype=torch.float64)
    chosen, leading = analysis_layer
    for g in chosen:
        for offset in (0, half):
            rows = [j * dh + p + offset for j in range(nkv) for p in range(g * fold, (g + 1) * fold)]
            P[torch.tensor(rows)[:, None], torch.tensor(rows)[None, :]] = torch.outer(leading[g], leading[g])
    return P


def rorope_low_rank(config, W, analysis, fold, rank, svd, covariances=None, balance=False, damping=1e-3, rotations=None):
    """Per layer: the position-free keys (I - P) W_k and W_v replaced by their rank-R reconstruction
    (R = n_kv * rank), with K/V balancing when asked; with rotations (C, S of mean_rotations) the
    position-free rest of every pair (j, p) is first mapped by its mean rotation, bias alike.
    Returns the new weights (k_nope.weight / .bias beside the original k_proj) and the alphas."""
    _, nkv, dh = dims(config)
    half = dh // 2
    W = dict(W)
    alphas = []

    def compensate_rows(m, i):
        if rotations is None:
            return m
        m = m.clone()
        C, S = rotations
        for j in range(nkv):
            for q in range(half):
                a, b, c, s_ = j * dh + q, j * dh + q + half, C[i, j, q], S[i, j, q]
                m[a], m[b] = c * m[a] - s_ * m[b], s_ * m[a] + c * m[b]
        return m

    for i, layer in enumerate(analysis):
        p = f"model.layers.{i}.self_attn."
        P = rorope_projection(config, layer, fold)
        wk = W[p + "k_proj.weight"].double()
        nope = compensate_rows(wk - P @ wk, i)
        if p + "k_proj.bias" in W:
            kb = W[p + "k_proj.bias"].double()
            W[p + "k_nope.bias"] = compensate_rows((kb - P @ kb)[:, None], i)[:, 0]
        wv = W[p + "v_proj.weight"].double()
        alpha = 1.0
        if balance:
            C = covariances[i]
            alpha = math.sqrt(torch.trace(nope @ C @ nope.T).item() / torch.trace(wv @ C @ wv.T).item())
        alphas.append(alpha)
        R = nkv * rank
        m = torch.cat([nope / alpha, wv])
        if svd == "activation":
            approx = activation_aware(m, covariances[i], R, damping)
            k_new, v_new = approx[:nkv * dh], approx[nkv * dh:]
        elif svd == "joint":
            u, s_, vh = torch.linalg.svd(m, full_matrices=False)
            approx = (u[:, :R] * s_[:R]) @ vh[:R]
            k_new, v_new = approx[:nkv * dh], approx[nkv * dh:]
        else:
            def truncate(a, r):
                u, s_, vh = torch.linalg.svd(a, full_matrices=False)
                return (u[:, :r] * s_[:r]) @ vh[:r]
            k_new, v_new = truncate(nope / alpha, R // 2), truncate(wv, R // 2)
        W[p + "k_nope.weight"] = (k_new * alpha).float()
        W[p + "v_proj.weight"] = v_new.float()
    return W, alphas


def rorope_logits(config, W, seq, analysis, fold):
    """Logits (T, vocab) of the RoRoPE model: per query head h of KV group j and kept group g, the
    rope score (sum_p u[j,p] q_h^p) . R(theta_{g fold} (t - s)) (sum_{j',p} u[j',p] k_j'^p), plus
    the position-free score q_h . k~_j with k~ = W_k_nope x + (I - P) b; scaled by 1/sqrt(d_h)."""
    nh, nkv, dh = dims(config)
    half, g_size = dh // 2, nh // nkv
    eps = config.get("rms_norm_eps", 1e-6)
    ids = torch.tensor([seq])
    T = len(seq)
    _, _, bias = tables(config, T)
    inv, _ = inverse_frequencies(config, dh, T)
    pos = torch.arange(T).double()
    x = W["model.embed_tokens.weight"][ids]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a_ = p + "self_attn."

        def lin(h, name, weight=None):
            return torch.nn.functional.linear(h, W[name + ".weight"] if weight is None else weight, W.get(name + ".bias"))

        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)[0].double()
        q = torch.nn.functional.linear(h, W[a_ + "q_proj.weight"].double(), None if a_ + "q_proj.bias" not in W else W[a_ + "q_proj.bias"].double())
        q = q.view(T, nh, dh)
        k_full = torch.nn.functional.linear(h, W[a_ + "k_proj.weight"].double(),
                                            None if a_ + "k_proj.bias" not in W else W[a_ + "k_proj.bias"].double()).view(T, nkv, dh)
        k_nope = torch.nn.functional.linear(h, W[a_ + "k_nope.weight"].double(), W.get(a_ + "k_nope.bias")).view(T, nkv, dh)
        v = torch.nn.functional.linear(h, W[a_ + "v_proj.weight"].double(),
                                       None if a_ + "v_proj.bias" not in W else W[a_ + "v_proj.bias"].double()).view(T, nkv, dh)
        chosen, leading = analysis[i]
        scores = torch.zeros(nh, T, T, dtype=torch.float64)
        for hh in range(nh):
            j = hh // g_size
            scores[hh] += q[:, hh] @ k_nope[:, j].T
            for g in chosen:
                u = leading[g].view(nkv, fold)
                ps = list(range(g * fold, (g + 1) * fold))
                qe = [sum(u[j, c] * q[:, hh, pp + off] for c, pp in enumerate(ps)) for off in (0, half)]     # 2 x (T,)
                ke = [sum(u[jj, c] * k_full[:, jj, pp + off] for jj in range(nkv) for c, pp in enumerate(ps)) for off in (0, half)]
                angle = inv[g * fold].double() * (pos[None, :] - pos[:, None])                                # theta (t - s)
                # q^T R(phi) k for 2-vectors (a, b), (c, d) in rotate_half form: (ac + bd) cos phi + (bc - ad) sin phi
                scores[hh] += (qe[0][:, None] * ke[0][None, :] + qe[1][:, None] * ke[1][None, :]) * torch.cos(angle) + \
                              (qe[1][:, None] * ke[0][None, :] - qe[0][:, None] * ke[1][None, :]) * torch.sin(angle)
        att = torch.softmax(scores / math.sqrt(dh) + bias.double(), -1)
        o = torch.stack([att[hh] @ v[:, hh // g_size] for hh in range(nh)], 1).reshape(1, T, nh * dh).float()
        x = mlp_residual(x + lin(o, a_ + "o_proj"), W, p, eps)
    return head_logits(config, W, x, eps)


def converted_logits(config, W, seq, pairs):
    """Logits (T, vocab) of the reference conversion: RoPE only on the kept pairs."""
    _, nkv, dh = dims(config)
    half = dh // 2
    ids = torch.tensor([seq])
    cos, sin, bias = tables(config, len(seq))
    x = W["model.embed_tokens.weight"][ids]
    for i in range(config["num_hidden_layers"]):
        mask = torch.zeros(nkv, dh)
        for j in range(nkv):
            for kk in pairs[i][j]:
                mask[j, kk] = mask[j, kk + half] = 1
        x, _, _, _ = layer_forward(config, W, i, x, cos, sin, bias, mask)
    x = rms_norm(x, W["model.norm.weight"], config.get("rms_norm_eps", 1e-6))
    head = W["model.embed_tokens.weight"] if config.get("tie_word_embeddings", False) else W["lm_head.weight"]
    return (x @ head.T)[0]


def perplexity(config, W, sequences, pairs):
    nll, count = 0.0, 0
    for seq in sequences:
        logits = converted_logits(config, W, seq, pairs)[:-1]
        nll += torch.nn.functional.cross_entropy(logits, torch.tensor(seq[1:]), reduction="sum").item()
        count += len(seq) - 1
    return math.exp(nll / count)


def mla_grads(directory, sequences, out):
    """Gradients of the mean next-token loss of an MLA checkpoint, through the MLA form itself
    (mla_perplexity.py's forward: latent, up-projections, partial RoPE)."""
    import mla_perplexity
    config = json.load(open(os.path.join(directory, "config.json")))
    W = mla_perplexity.load_weights(directory)
    for t in W.values():
        t.requires_grad_(True)
    total, count = 0.0, 0
    for seq in sequences:
        logits = mla_perplexity.logits(config, W, seq)[:-1]
        total = total + torch.nn.functional.cross_entropy(logits, torch.tensor(seq[1:]), reduction="sum")
        count += len(seq) - 1
    (total / count).backward()
    save_safetensors(out, {name: t.grad for name, t in W.items()}, torch.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("convert")
    c.add_argument("dir")
    c.add_argument("--strategy", required=True)
    c.add_argument("--pairs", type=int, required=True)
    c.add_argument("--kv-rank", type=int)
    c.add_argument("--kv-budget", help="instead of --kv-rank: '12.5%%' of the original cache or elements per token per layer")
    c.add_argument("--svd", default="joint")
    c.add_argument("--eval", required=True)
    c.add_argument("--calib")
    c.add_argument("--shared", action="store_true", help="2-norm: the same pairs in every layer (scores summed over layers)")
    c.add_argument("--score", default="product", choices=["product", "sum"], help="2-norm: how a pair's query and key norms combine")
    c.add_argument("--kv-balance", action="store_true", help="balance the position-free keys against the values before factoring")
    c.add_argument("--rope-compensation", action="store_true", help="map each dropped pair's key rows by its mean rotation first")
    c.add_argument("--fold", type=int, default=1, help="rorope: adjacent pairs per frequency group (FreqFold)")
    c.add_argument("--logits-ids", help="also write the logits of these sequences (float32, concatenated) to --logits-out")
    c.add_argument("--logits-out")
    e = sub.add_parser("errors", help="per layer: ||(M - approx) X^T||_F for joint and activation-aware truncation at each rank")
    e.add_argument("dir")
    e.add_argument("--pairs", type=int, required=True)
    e.add_argument("--calib", required=True)
    n = sub.add_parser("latent-rms", help="per layer: the RMS of an MLA checkpoint's latent W_down x over the ORIGINAL model's calibration inputs")
    n.add_argument("dir", help="the original checkpoint")
    n.add_argument("mla_dir")
    n.add_argument("--calib", required=True)
    g = sub.add_parser("grads")
    g.add_argument("dir")
    g.add_argument("--ids", required=True)
    g.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.command == "grads":
        mla_grads(args.dir, json.load(open(args.ids)), args.out)
        return
    if args.command == "latent-rms":
        import mla_perplexity
        config, W = load(args.dir)
        M = mla_perplexity.load_weights(args.mla_dir)
        with torch.no_grad():
            Cs = input_covariances(config, W, json.load(open(args.calib)))
            rms = []
            for i, C in enumerate(Cs):
                down = M[f"model.layers.{i}.self_attn.kv_down_proj.weight"].double()
                rms.append(math.sqrt(torch.trace(down @ C @ down.T).item() / down.shape[0]))
        json.dump(rms, sys.stdout)
        print()
        return
    if args.command == "errors":
        config, W = load(args.dir)
        nh, nkv, dh = dims(config)
        with torch.no_grad():
            Cs = input_covariances(config, W, json.load(open(args.calib)))
            kept = fixed_pairs("high", dh, args.pairs)
            result = []
            for i, C in enumerate(Cs):
                p = f"model.layers.{i}.self_attn."
                nope = [j * dh + d for j in range(nkv) for d in range(dh) if d % (dh // 2) not in kept]
                m = torch.cat([W[p + "k_proj.weight"][nope], W[p + "v_proj.weight"]]).double()
                S = torch.linalg.cholesky(C)  # undamped: the error is measured on the real inputs
                def err(a):
                    return torch.linalg.norm((m - a) @ S).item()   # ||(M - A) X^T||_F / sqrt(n)
                ranks = range(1, min(m.shape) + 1)
                u, s_, vh = torch.linalg.svd(m, full_matrices=False)
                result.append({"joint": [err((u[:, :r] * s_[:r]) @ vh[:r]) for r in ranks],
                               "activation": [err(activation_aware(m, C, r, 0.0)) for r in ranks]})
        json.dump(result, sys.stdout)
        print()
        return
    config, W = load(args.dir)
    _, nkv, dh = dims(config)
    if args.strategy == "rorope":
        with torch.no_grad():
            calib = json.load(open(args.calib))
            analysis = rorope_analysis(config, W, calib, nkv * args.pairs, args.fold)
            covariances = input_covariances(config, W, calib) if args.svd == "activation" or args.kv_balance else None
            rotations = mean_rotations(config, W, calib) if args.rope_compensation else None
            W2, alphas = rorope_low_rank(config, W, analysis, args.fold, args.kv_rank, args.svd, covariances, args.kv_balance, rotations=rotations)
            nll, count = 0.0, 0
            for seq in json.load(open(args.eval)):
                out = rorope_logits(config, W2, seq, analysis, args.fold)[:-1]
                nll += torch.nn.functional.cross_entropy(out, torch.tensor(seq[1:]), reduction="sum").item()
                count += len(seq) - 1
            if args.logits_ids:
                rows = [rorope_logits(config, W2, seq, analysis, args.fold) for seq in json.load(open(args.logits_ids))]
                torch.cat(rows).float().numpy().tofile(args.logits_out)
        pairs = [[[g * args.fold for g in chosen]] for chosen, _ in analysis]
        compensation = None if rotations is None else [[[[rotations[0][i, j, q].item(), rotations[1][i, j, q].item()] for q in range(dh // 2)]
                                                         for j in range(nkv)] for i in range(config["num_hidden_layers"])]
        json.dump({"pairs": pairs, "perplexity": math.exp(nll / count), "latent_dims": None,
                   "kv_balance": alphas if args.kv_balance else None, "rope_compensation": compensation}, sys.stdout)
        print()
        return
    with torch.no_grad():
        if args.strategy == "2-norm":
            pairs = two_norm_pairs(config, W, json.load(open(args.calib)), args.pairs, args.shared, args.score)
        else:
            pairs = [[fixed_pairs(args.strategy, dh, args.pairs)] * nkv for _ in range(config["num_hidden_layers"])]
        # Statistics of the original model, before any of its weights change.
        covariances = input_covariances(config, W, json.load(open(args.calib))) if args.svd == "activation" or args.kv_balance else None
        compensation = None
        if args.rope_compensation:
            C, S = mean_rotations(config, W, json.load(open(args.calib)))
            W = compensate(W, config, pairs, C, S)
            compensation = [[[[1.0, 0.0] if p in pairs[i][j] else [C[i, j, p].item(), S[i, j, p].item()] for p in range(dh // 2)]
                              for j in range(nkv)] for i in range(config["num_hidden_layers"])]
        alphas = balance_factors(config, W, pairs, covariances) if args.kv_balance else None
        widths = None
        if args.kv_budget:
            nh, nkv, dh = dims(config)
            L = config["num_hidden_layers"]
            b = args.kv_budget
            cache = float(b[:-1]) / 100 * 2 * nkv * dh * L if b.endswith("%") else float(b) * L
            total = math.floor(cache + 1e-9) - L * nkv * 2 * args.pairs
            widths, _ = budget_widths(config, W, pairs, args.svd, total, covariances, alphas=alphas)
        W2 = low_rank(W, config, pairs, args.kv_rank, args.svd, covariances, widths=widths, alphas=alphas)
        ppl = perplexity(config, W2, json.load(open(args.eval)), pairs)
        if args.logits_ids:
            rows = [converted_logits(config, W2, seq, pairs) for seq in json.load(open(args.logits_ids))]
            torch.cat(rows).float().numpy().tofile(args.logits_out)
    json.dump({"pairs": pairs, "perplexity": ppl, "latent_dims": widths, "kv_balance": alphas, "rope_compensation": compensation}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
