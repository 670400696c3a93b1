using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>An attention block of a decoder layer: standard GQA, or MLA after conversion.</summary>
public interface IAttention : IDisposable
{
    /// <param name="x">(B, T, d) hidden states.</param>
    /// <param name="mask">(T, T) booleans, true where attention is forbidden.</param>
    Tensor Forward(Tensor x, RotaryEmbedding rope, Tensor cos, Tensor sin, Tensor mask);

    /// <summary>The projections under their names relative to "self_attn." (e.g. "q_proj").</summary>
    IEnumerable<(string Name, Linear Projection)> Projections { get; }
}
