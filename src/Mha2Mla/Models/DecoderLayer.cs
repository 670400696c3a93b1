using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>Pre-norm residual block: x + attn(norm(x)), then x + mlp(norm(x)).</summary>
public sealed class DecoderLayer(RmsNorm inputNorm, IAttention attention, RmsNorm postAttentionNorm, Mlp mlp) : IDisposable
{
    public RmsNorm InputNorm { get; } = inputNorm;
    public IAttention Attention { get; } = attention;
    public RmsNorm PostAttentionNorm { get; } = postAttentionNorm;
    public Mlp Mlp { get; } = mlp;

    public Tensor Forward(Tensor x, RotaryEmbedding rope, Tensor cos, Tensor sin, Tensor mask)
    {
        var h = x + Attention.Forward(InputNorm.Forward(x), rope, cos, sin, mask);
        return h + Mlp.Forward(PostAttentionNorm.Forward(h));
    }

    public void Dispose()
    {
        InputNorm.Dispose();
        Attention.Dispose();
        PostAttentionNorm.Dispose();
        Mlp.Dispose();
    }
}
