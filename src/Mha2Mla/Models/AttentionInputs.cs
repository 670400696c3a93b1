using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>
/// What an attention block needs beside the hidden states of the new tokens: RoPE tables at
/// their positions, (1 or B, 1, T, d_h); the mask over every key (true where attention is
/// forbidden), (T, T_keys) or (B, 1, T, T_keys); and this layer's cache, if any.
/// </summary>
public sealed record AttentionInputs(Tensor Cos, Tensor Sin, Tensor Mask, LayerCache? Cache = null, bool Absorb = false);
