using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>
/// Multi-head Latent Attention in training form (MHA2MLA, DeepSeek-V2): the cache holds a latent
/// c = W_down·x (R wide) and rotated keys on r kept frequency pairs per KV head. Keys and values
/// are rebuilt from the latent: k = [RoPE(W_k_rope·x) ; W_up_k·c], v = W_up_v·c. Query heads hold
/// their dimensions in <see cref="HeadLayout"/> order (q_proj rows were permuted to match), so
/// q·k = q_rope·k_rope + q_nope·k_nope, scaled by 1/√d_h as in the original model.
/// With a latent norm (DeepSeek's kv_a_layernorm) c = RMSNorm(W_down·x): the cache holds the
/// normed latent and everything downstream reads it.
/// </summary>
public sealed class MlaAttention : IAttention
{
    private readonly ModelConfig config;
    private readonly int ropeWidth;
    private readonly Tensor keyRopeDims;   // (n_kv·2r) indices into the full RoPE tables
    private readonly Tensor queryRopeDims; // (n_h·2r): each query head uses its KV head's pairs

    public Linear Q { get; }
    public Linear KvDown { get; }
    public Linear KRope { get; }
    public Linear KUp { get; }
    public Linear VUp { get; }
    public Linear O { get; }
    public RmsNorm? LatentNorm { get; }

    /// <summary>ε of the latent norm: transformers' DeepseekV3RMSNorm default, which kv_a_layernorm uses.</summary>
    public const double LatentNormEps = 1e-6;

    public MlaAttention(ModelConfig config, int[][] pairs, Linear q, Linear kvDown, Linear kRope, Linear kUp, Linear vUp, Linear o, RmsNorm? latentNorm = null)
    {
        this.config = config;
        (Q, KvDown, KRope, KUp, VUp, O, LatentNorm) = (q, kvDown, kRope, kUp, vUp, o, latentNorm);
        ropeWidth = 2 * pairs[0].Length;
        var perKvHead = pairs.Select(p => HeadLayout.RopeDims(config.HeadDim, p).Select(d => (long)d).ToArray()).ToArray();
        // On the weights' device once, not copied there at every forward.
        using var scope = torch.NewDisposeScope();
        var device = q.Weight.device;
        keyRopeDims = torch.tensor(perKvHead.SelectMany(d => d).ToArray()).to(device).DetachFromDisposeScope();
        queryRopeDims = torch.tensor(Enumerable.Range(0, config.NumAttentionHeads)
            .SelectMany(h => perKvHead[h / config.GroupSize]).ToArray()).to(device).DetachFromDisposeScope();
    }

    /// <summary>Layer <paramref name="index"/>'s MLA projections, as docs/mla-format.md lays them out.</summary>
    internal static MlaAttention Read(WeightLoader loader, ModelConfig config, MlaSettings mla, int index)
    {
        string Name(string rest) => WeightNames.Layer(index, $"self_attn.{rest}");
        var (d, dh, kv, r2) = (config.HiddenSize, config.HeadDim, config.NumKeyValueHeads, 2 * mla.RopePairs);
        return new MlaAttention(config, mla.Pairs[index],
            loader.ReadLinear(Name("q_proj"), config.NumAttentionHeads * dh, d, config.QkvBias),
            loader.ReadLinear(Name("kv_down_proj"), mla.LatentDims[index], d, false),
            loader.ReadLinear(Name("k_rope_proj"), kv * r2, d, config.QkvBias),
            loader.ReadLinear(Name("k_up_proj"), kv * (dh - r2), mla.LatentDims[index], config.QkvBias),
            loader.ReadLinear(Name("v_up_proj"), kv * dh, mla.LatentDims[index], config.QkvBias),
            loader.ReadLinear(Name("o_proj"), d, config.NumAttentionHeads * dh, config.OutputBias),
            mla.LatentNorm ? new RmsNorm(loader.Read(Name(LatentNormName), mla.LatentDims[index]), LatentNormEps) : null);
    }

    /// <summary>The latent norm's weight, relative to "self_attn.".</summary>
    public const string LatentNormName = "kv_latent_norm.weight";

    public IEnumerable<(string Name, Tensor Value)> OtherParameters => LatentNorm is null ? [] : [(LatentNormName, LatentNorm.Weight)];

    public IEnumerable<(string Name, Linear Projection)> Projections =>
        [("q_proj", Q), ("kv_down_proj", KvDown), ("k_rope_proj", KRope), ("k_up_proj", KUp), ("v_up_proj", VUp), ("o_proj", O)];

    public Tensor Forward(Tensor x, AttentionInputs inputs)
    {
        var (batch, length) = (x.size(0), x.size(1));
        var (heads, kvHeads, headDim) = (config.NumAttentionHeads, config.NumKeyValueHeads, config.HeadDim);

        var query = Q.Forward(x).view(batch, length, heads, headDim).transpose(1, 2);
        var queryRope = Rotate(query.narrow(-1, 0, ropeWidth), inputs.Cos, inputs.Sin, queryRopeDims, heads);
        var queryNope = query.narrow(-1, ropeWidth, headDim - ropeWidth);
        var latent = KvDown.Forward(x);                                                               // (B, T, R)
        if (LatentNorm is not null) latent = LatentNorm.Forward(latent);
        var keyRope = Rotate(KRope.Forward(x).view(batch, length, kvHeads, ropeWidth).transpose(1, 2), inputs.Cos, inputs.Sin, keyRopeDims, kvHeads);
        if (inputs.Cache is { } cache)
        {
            // The cache holds only the latent and the rotated keys of the kept pairs.
            cache.First.Append(latent.unsqueeze(1));
            cache.Second.Append(keyRope);
            (latent, keyRope) = (cache.First.Read(latent.dtype).select(1, 0), cache.Second.Read(keyRope.dtype));
        }
        var attended = inputs.Absorb
            ? Absorbed(queryRope, queryNope, latent, keyRope, inputs.Mask.Forbidden)
            : Expanded(queryRope, queryNope, latent, keyRope, inputs.Mask, inputs.Kernel);
        return O.Forward(attended);
    }

    // Keys and values rebuilt from the latent: k = [k_rope ; W_up_k·c], v = W_up_v·c.
    private Tensor Expanded(Tensor queryRope, Tensor queryNope, Tensor latent, Tensor keyRope, AttentionMask mask, AttentionKernel kernel)
    {
        var (batch, keys, kvHeads) = (latent.size(0), latent.size(1), config.NumKeyValueHeads);
        var keyNope = KUp.Forward(latent).view(batch, keys, kvHeads, config.HeadDim - ropeWidth).transpose(1, 2);
        var value = VUp.Forward(latent).view(batch, keys, kvHeads, config.HeadDim).transpose(1, 2);
        return Attention.ScaledDotProduct(config, torch.cat([queryRope, queryNope], -1), torch.cat([keyRope, keyNope], -1), value, mask, kernel);
    }

    /// <summary>
    /// The absorbed form (DESIGN.md §2): W_up_k moves onto the query and W_up_v after the weighted
    /// sum, so attention runs against the cached latent itself and no key or value is rebuilt:
    /// score = q_rope·k_rope + (W_up_k,jᵀ q_nope)·c, o = W_up_v,j (Σ a c) + b_v. The position-free
    /// key bias adds one constant to all of a query's scores, which softmax ignores, so it drops out.
    /// Always the explicit form: its scores are sums of two products of different widths, which
    /// scaled_dot_product_attention (one q·k, scaled by its own width) cannot express.
    /// </summary>
    private Tensor Absorbed(Tensor queryRope, Tensor queryNope, Tensor latent, Tensor keyRope, Tensor mask)
    {
        var (batch, length, keys) = (queryRope.size(0), queryRope.size(2), latent.size(1));
        var (heads, kvHeads, group, headDim, rank) = (config.NumAttentionHeads, config.NumKeyValueHeads, config.GroupSize, config.HeadDim, latent.size(2));
        var nopeWidth = headDim - ropeWidth;

        var upKey = KUp.Weight.view(1, kvHeads, 1, nopeWidth, rank);                                   // W_up_k,j
        var queryLatent = queryNope.reshape(batch, kvHeads, group, length, nopeWidth).matmul(upKey);   // (B, n_kv, g, T, R)
        var latentT = latent.unsqueeze(1).unsqueeze(1);                                                // (B, 1, 1, Tk, R)
        using var scores = queryLatent.matmul(latentT.transpose(3, 4));
        scores.add_(queryRope.reshape(batch, kvHeads, group, length, ropeWidth).matmul(keyRope.unsqueeze(2).transpose(3, 4)));
        var flat = scores.view(batch, heads, length, keys);
        flat.mul_(1.0 / Math.Sqrt(headDim)).masked_fill_(mask, double.NegativeInfinity);
        using var weights = Attention.Softmax(flat);
        var context = weights.view(batch, kvHeads, group, length, keys).matmul(latentT);              // (B, n_kv, g, T, R)
        var upValue = VUp.Weight.view(1, kvHeads, 1, headDim, rank).transpose(3, 4);                   // W_up_v,jᵀ
        var output = context.matmul(upValue);                                                           // (B, n_kv, g, T, d_h)
        if (VUp.Bias is { } bias) output = output + bias.view(1, kvHeads, 1, 1, headDim);
        return output.reshape(batch, heads, length, headDim).transpose(1, 2).reshape(batch, length, heads * headDim);
    }

    // x (B, heads, T, 2r) rotated at each head's own frequencies, picked out of the full tables (b, 1, T, d_h).
    private Tensor Rotate(Tensor x, Tensor cos, Tensor sin, Tensor dims, int heads)
    {
        var (tables, length) = (cos.size(0), cos.size(2));
        Tensor Table(Tensor full) => full.index_select(3, dims).view(tables, length, heads, ropeWidth).transpose(1, 2);
        return x * Table(cos) + RotaryEmbedding.RotateHalf(x) * Table(sin);
    }

    public void Dispose()
    {
        foreach (var (_, p) in Projections) p.Dispose();
        LatentNorm?.Dispose();
        keyRopeDims.Dispose();
        queryRopeDims.Dispose();
    }
}
