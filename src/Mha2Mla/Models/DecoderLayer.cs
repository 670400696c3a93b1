using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>Pre-norm residual block: x + attn(norm(x)), then x + mlp(norm(x)).</summary>
public sealed class DecoderLayer(RmsNorm inputNorm, IAttention attention, RmsNorm postAttentionNorm, Mlp mlp) : IDisposable
{
    public RmsNorm InputNorm { get; } = inputNorm;
    public IAttention Attention { get; } = attention;
    public RmsNorm PostAttentionNorm { get; } = postAttentionNorm;
    public Mlp Mlp { get; } = mlp;

    public Tensor Forward(Tensor x, AttentionInputs inputs)
    {
        var h = x + Attention.Forward(InputNorm.Forward(x), inputs);
        return h + Mlp.Forward(PostAttentionNorm.Forward(h));
    }

    /// <summary>The layer's weights under their Hugging Face names, for layer <paramref name="index"/>.</summary>
    public IEnumerable<(string Name, Tensor Value)> NamedParameters(int index) =>
        Attention.Projections.Select(p => ($"self_attn.{p.Name}", p.Projection))
            .Concat([("mlp.gate_proj", Mlp.Gate), ("mlp.up_proj", Mlp.Up), ("mlp.down_proj", Mlp.Down)])
            .SelectMany(p => p.Item2.NamedParameters(WeightNames.Layer(index, p.Item1)))
            .Concat(Attention.OtherParameters.Select(p => (WeightNames.Layer(index, $"self_attn.{p.Name}"), p.Value)))
            .Append((WeightNames.Layer(index, "input_layernorm.weight"), InputNorm.Weight))
            .Append((WeightNames.Layer(index, "post_attention_layernorm.weight"), PostAttentionNorm.Weight));

    public void Dispose()
    {
        InputNorm.Dispose();
        Attention.Dispose();
        PostAttentionNorm.Dispose();
        Mlp.Dispose();
    }
}
