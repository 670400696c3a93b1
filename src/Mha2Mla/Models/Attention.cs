using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>
/// Grouped-query attention as in Hugging Face's LlamaAttention: RoPE on q and k, each KV head
/// shared by <see cref="ModelConfig.GroupSize"/> query heads, causal mask, scale 1/√d_h.
/// </summary>
public sealed class Attention(ModelConfig config, Linear q, Linear k, Linear v, Linear o) : IDisposable
{
    public Linear Q { get; } = q;
    public Linear K { get; } = k;
    public Linear V { get; } = v;
    public Linear O { get; } = o;

    /// <param name="x">(B, T, d) hidden states.</param>
    /// <param name="mask">(T, T) booleans, true where attention is forbidden.</param>
    public Tensor Forward(Tensor x, RotaryEmbedding rope, Tensor cos, Tensor sin, Tensor mask)
    {
        var (batch, length) = (x.size(0), x.size(1));
        var (heads, kvHeads, headDim) = (config.NumAttentionHeads, config.NumKeyValueHeads, config.HeadDim);

        var query = Q.Forward(x).view(batch, length, heads, headDim).transpose(1, 2);
        var key = K.Forward(x).view(batch, length, kvHeads, headDim).transpose(1, 2);
        var value = V.Forward(x).view(batch, length, kvHeads, headDim).transpose(1, 2);

        query = rope.Apply(query, cos, sin);
        key = rope.Apply(key, cos, sin);
        key = RepeatKv(key, batch, length);
        value = RepeatKv(value, batch, length);

        // The (B, n_h, T, T) scores dominate memory at long context: scale and mask them in place
        // and free them as soon as the softmax has read them, as PyTorch's refcounting would.
        using var scores = query.matmul(key.transpose(2, 3));
        scores.mul_(1.0 / Math.Sqrt(headDim)).masked_fill_(mask, double.NegativeInfinity);
        using var weights = torch.nn.functional.softmax(scores, -1);
        scores.Dispose();
        var output = weights.matmul(value).transpose(1, 2).reshape(batch, length, heads * headDim);
        return O.Forward(output);
    }

    // (B, n_kv, T, d_h) -> (B, n_h, T, d_h): each KV head serves its group of query heads.
    private Tensor RepeatKv(Tensor kv, long batch, long length)
    {
        if (config.GroupSize == 1) return kv;
        return kv.unsqueeze(2)
            .expand(batch, config.NumKeyValueHeads, config.GroupSize, length, config.HeadDim)
            .reshape(batch, config.NumAttentionHeads, length, config.HeadDim);
    }

    public void Dispose()
    {
        Q.Dispose();
        K.Dispose();
        V.Dispose();
        O.Dispose();
    }
}
