using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>
/// Multi-head Latent Attention in training form (MHA2MLA, DeepSeek-V2): the cache holds a latent
/// c = W_down·x (R wide) and rotated keys on r kept frequency pairs per KV head. Keys and values
/// are rebuilt from the latent: k = [RoPE(W_k_rope·x) ; W_up_k·c], v = W_up_v·c. Query heads hold
/// their dimensions in <see cref="HeadLayout"/> order (q_proj rows were permuted to match), so
/// q·k = q_rope·k_rope + q_nope·k_nope, scaled by 1/√d_h as in the original model.
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

    public MlaAttention(ModelConfig config, int[][] pairs, Linear q, Linear kvDown, Linear kRope, Linear kUp, Linear vUp, Linear o)
    {
        this.config = config;
        (Q, KvDown, KRope, KUp, VUp, O) = (q, kvDown, kRope, kUp, vUp, o);
        ropeWidth = 2 * pairs[0].Length;
        var perKvHead = pairs.Select(p => HeadLayout.RopeDims(config.HeadDim, p).Select(d => (long)d).ToArray()).ToArray();
        keyRopeDims = torch.tensor(perKvHead.SelectMany(d => d).ToArray()).DetachFromDisposeScope();
        queryRopeDims = torch.tensor(Enumerable.Range(0, config.NumAttentionHeads)
            .SelectMany(h => perKvHead[h / config.GroupSize]).ToArray()).DetachFromDisposeScope();
    }

    /// <summary>Layer <paramref name="index"/>'s MLA projections, as docs/mla-format.md lays them out.</summary>
    internal static MlaAttention Read(WeightLoader loader, ModelConfig config, MlaSettings mla, int index)
    {
        string Name(string rest) => WeightNames.Layer(index, $"self_attn.{rest}");
        var (d, dh, kv, r2) = (config.HiddenSize, config.HeadDim, config.NumKeyValueHeads, 2 * mla.RopePairs);
        return new MlaAttention(config, mla.Pairs[index],
            loader.ReadLinear(Name("q_proj"), config.NumAttentionHeads * dh, d, config.QkvBias),
            loader.ReadLinear(Name("kv_down_proj"), mla.LatentDim, d, false),
            loader.ReadLinear(Name("k_rope_proj"), kv * r2, d, config.QkvBias),
            loader.ReadLinear(Name("k_up_proj"), kv * (dh - r2), mla.LatentDim, config.QkvBias),
            loader.ReadLinear(Name("v_up_proj"), kv * dh, mla.LatentDim, config.QkvBias),
            loader.ReadLinear(Name("o_proj"), d, config.NumAttentionHeads * dh, config.OutputBias));
    }

    public IEnumerable<(string Name, Linear Projection)> Projections =>
        [("q_proj", Q), ("kv_down_proj", KvDown), ("k_rope_proj", KRope), ("k_up_proj", KUp), ("v_up_proj", VUp), ("o_proj", O)];

    public Tensor Forward(Tensor x, RotaryEmbedding rope, Tensor cos, Tensor sin, Tensor mask)
    {
        var (batch, length) = (x.size(0), x.size(1));
        var (heads, kvHeads, headDim) = (config.NumAttentionHeads, config.NumKeyValueHeads, config.HeadDim);
        var nopeWidth = headDim - ropeWidth;

        var query = Q.Forward(x).view(batch, length, heads, headDim).transpose(1, 2);
        var latent = KvDown.Forward(x);
        var keyNope = KUp.Forward(latent).view(batch, length, kvHeads, nopeWidth).transpose(1, 2);
        var value = VUp.Forward(latent).view(batch, length, kvHeads, headDim).transpose(1, 2);
        var keyRope = KRope.Forward(x).view(batch, length, kvHeads, ropeWidth).transpose(1, 2);

        var queryRope = Rotate(query.narrow(-1, 0, ropeWidth), cos, sin, queryRopeDims, heads);
        keyRope = Rotate(keyRope, cos, sin, keyRopeDims, kvHeads);
        query = torch.cat([queryRope, query.narrow(-1, ropeWidth, nopeWidth)], -1);
        var key = torch.cat([keyRope, keyNope], -1);
        return O.Forward(Attention.ScaledDotProduct(config, query, key, value, mask));
    }

    // x (B, heads, T, 2r) rotated at each head's own frequencies, picked out of the full tables.
    private Tensor Rotate(Tensor x, Tensor cos, Tensor sin, Tensor dims, int heads)
    {
        var length = cos.size(0);
        Tensor Table(Tensor full) => full.index_select(1, dims.to(full.device)).view(length, heads, ropeWidth).transpose(0, 1);
        return x * Table(cos) + RotaryEmbedding.RotateHalf(x) * Table(sin);
    }

    public void Dispose()
    {
        foreach (var (_, p) in Projections) p.Dispose();
        keyRopeDims.Dispose();
        queryRopeDims.Dispose();
    }
}
