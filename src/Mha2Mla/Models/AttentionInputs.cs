using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>
/// What an attention block needs beside the hidden states of the new tokens: RoPE tables at
/// their positions, (1 or B, 1, T, d_h); what each query may attend to; this layer's cache, if
/// any; and which attention form runs.
/// </summary>
public sealed record AttentionInputs(Tensor Cos, Tensor Sin, AttentionMask Mask, LayerCache? Cache = null, bool Absorb = false,
    AttentionKernel Kernel = AttentionKernel.Default);

/// <summary>How softmax(q·kᵀ/√d_h + mask)·v is computed.</summary>
public enum AttentionKernel
{
    /// <summary><see cref="Sdpa"/> where libtorch has fused kernels (2.0+), <see cref="Explicit"/> on 1.13.</summary>
    Default,
    /// <summary>Scores materialized, masked and softmaxed in place: the fastest form libtorch 1.13 has.</summary>
    Explicit,
    /// <summary>PyTorch's scaled_dot_product_attention: flash / memory-efficient kernels on CUDA, no causal mask tensor.</summary>
    Sdpa,
}
