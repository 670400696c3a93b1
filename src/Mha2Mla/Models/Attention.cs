using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>
/// Grouped-query attention as in Hugging Face's LlamaAttention: RoPE on q and k, each KV head
/// shared by <see cref="ModelConfig.GroupSize"/> query heads, causal mask, scale 1/√d_h.
/// </summary>
public sealed class Attention(ModelConfig config, Linear q, Linear k, Linear v, Linear o) : IAttention
{
    public Linear Q { get; } = q;
    public Linear K { get; } = k;
    public Linear V { get; } = v;
    public Linear O { get; } = o;

    /// <summary>Layer <paramref name="index"/>'s q/k/v/o projections, as Hugging Face's LlamaAttention names them.</summary>
    internal static Attention Read(WeightLoader loader, ModelConfig config, int index)
    {
        string Name(string rest) => WeightNames.Layer(index, $"self_attn.{rest}");
        var (d, qWidth, kvWidth) = (config.HiddenSize, config.NumAttentionHeads * config.HeadDim, config.NumKeyValueHeads * config.HeadDim);
        return new Attention(config,
            loader.ReadLinear(Name("q_proj"), qWidth, d, config.QkvBias),
            loader.ReadLinear(Name("k_proj"), kvWidth, d, config.QkvBias),
            loader.ReadLinear(Name("v_proj"), kvWidth, d, config.QkvBias),
            loader.ReadLinear(Name("o_proj"), d, qWidth, config.OutputBias));
    }

    public IEnumerable<(string Name, Linear Projection)> Projections => [("q_proj", Q), ("k_proj", K), ("v_proj", V), ("o_proj", O)];

    public Tensor Forward(Tensor x, AttentionInputs inputs)
    {
        var (batch, length) = (x.size(0), x.size(1));
        var (heads, kvHeads, headDim) = (config.NumAttentionHeads, config.NumKeyValueHeads, config.HeadDim);

        var query = Q.Forward(x).view(batch, length, heads, headDim).transpose(1, 2);
        var key = K.Forward(x).view(batch, length, kvHeads, headDim).transpose(1, 2);
        var value = V.Forward(x).view(batch, length, kvHeads, headDim).transpose(1, 2);

        query = RotaryEmbedding.Apply(query, inputs.Cos, inputs.Sin);
        key = RotaryEmbedding.Apply(key, inputs.Cos, inputs.Sin);
        if (inputs.Cache is { } cache)
        {
            // The cache holds the rotated keys and the values of every earlier token; attend over all of it.
            cache.First.Append(key);
            cache.Second.Append(value);
            (key, value) = (cache.First.Read(key.dtype), cache.Second.Read(value.dtype));
        }
        return O.Forward(ScaledDotProduct(config, query, key, value, inputs.Mask, inputs.Kernel));
    }

    /// <summary>
    /// softmax(q·kᵀ/√d_h + mask)·v for q (B, n_h, T, d_h) and k, v (B, n_kv, T_keys, ·), each KV
    /// head serving its group of query heads; returns (B, T, n_h·d_v). Below fp32 the softmax
    /// runs in fp32, as transformers' eager attention and the fused kernels do.
    /// </summary>
    public static Tensor ScaledDotProduct(ModelConfig config, Tensor query, Tensor key, Tensor value, AttentionMask mask, AttentionKernel kernel)
    {
        var (batch, length) = (query.size(0), query.size(2));
        key = RepeatKv(config, key);
        value = RepeatKv(config, value);
        var attended = Resolve(kernel) == AttentionKernel.Sdpa
            ? torch.nn.functional.scaled_dot_product_attention(query, key, value, mask.PlainCausal ? null : mask.Allowed, is_causal: mask.PlainCausal)
            : Explicit(query, key, value, mask);
        return attended.transpose(1, 2).reshape(batch, length, config.NumAttentionHeads * value.size(-1));
    }

    /// <summary>The kernel <see cref="AttentionKernel.Default"/> stands for with this libtorch.</summary>
    public static AttentionKernel Resolve(AttentionKernel kernel) => kernel != AttentionKernel.Default ? kernel
        : torch.nn.functional.scaled_dot_product_attention_is_fused ? AttentionKernel.Sdpa : AttentionKernel.Explicit;

    /// <summary>Queries per block of the explicit form at long context (see <see cref="Explicit"/>).</summary>
    internal const long CausalBlock = 512;

    // Causal attention never looks ahead, so each block of queries needs only the keys up to its
    // own end: the upper triangle of the scores is skipped, about half their work and memory at
    // long context (what the fused kernels do too). Other masks take the dense form.
    private static Tensor Explicit(Tensor query, Tensor key, Tensor value, AttentionMask mask)
    {
        var length = query.size(2);
        if (!mask.PlainCausal || length <= CausalBlock) return Dense(query, key, value, mask.Forbidden);
        var blocks = new List<Tensor>();
        for (long start = 0; start < length; start += CausalBlock)
        {
            var (rows, keys) = (Math.Min(CausalBlock, length - start), Math.Min(start + CausalBlock, length));
            using var forbidden = CausalMask.Rows(start, rows, keys, null, query.device);
            blocks.Add(Dense(query.narrow(2, start, rows), key.narrow(2, 0, keys), value.narrow(2, 0, keys), forbidden));
        }
        return torch.cat(blocks, 2);
    }

    private static Tensor Dense(Tensor query, Tensor key, Tensor value, Tensor forbidden)
    {
        // The (B, n_h, T, T) scores dominate memory at long context: scale and mask them in place
        // and free them as soon as the softmax has read them, as PyTorch's refcounting would.
        using var scores = query.matmul(key.transpose(2, 3));
        scores.mul_(1.0 / Math.Sqrt(query.size(-1))).masked_fill_(forbidden, double.NegativeInfinity);
        using var weights = Softmax(scores);
        scores.Dispose();
        return weights.matmul(value);
    }

    /// <summary>softmax over the last dimension, in fp32 whatever the scores' dtype, returned in that dtype.</summary>
    internal static Tensor Softmax(Tensor scores)
    {
        if (scores.dtype == ScalarType.Float32) return torch.nn.functional.softmax(scores, -1);
        using var wide = scores.to(ScalarType.Float32);
        using var weights = torch.nn.functional.softmax(wide, -1);
        return weights.to(scores.dtype);
    }

    // (B, n_kv, T, e) -> (B, n_h, T, e): each KV head serves its group of query heads.
    private static Tensor RepeatKv(ModelConfig config, Tensor kv)
    {
        if (config.GroupSize == 1) return kv;
        var (batch, length, width) = (kv.size(0), kv.size(2), kv.size(3));
        return kv.unsqueeze(2)
            .expand(batch, config.NumKeyValueHeads, config.GroupSize, length, width)
            .reshape(batch, config.NumAttentionHeads, length, width);
    }

    public void Dispose()
    {
        Q.Dispose();
        K.Dispose();
        V.Dispose();
        O.Dispose();
    }
}
