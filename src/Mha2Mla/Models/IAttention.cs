using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>An attention block of a decoder layer: standard GQA, or MLA after conversion.</summary>
public interface IAttention : IDisposable
{
    /// <param name="x">(B, T, d) hidden states of the new tokens.</param>
    /// <param name="inputs">RoPE tables, mask, and the layer's cache (new keys are appended to it, and attention reads all of it).</param>
    Tensor Forward(Tensor x, AttentionInputs inputs);

    /// <summary>The projections under their names relative to "self_attn." (e.g. "q_proj").</summary>
    IEnumerable<(string Name, Linear Projection)> Projections { get; }

    /// <summary>Weights that are not projections (MLA's latent norm), under their names relative to "self_attn.".</summary>
    IEnumerable<(string Name, Tensor Value)> OtherParameters => [];
}
