namespace Mha2Mla.Models;

// Multi-head Latent Attention as mha2mla's conversions write it (docs/mla-format.md): the block
// that replaces LlamaAttention in a converted decoder layer, and the head layout it reads its
// query and key rows in. The rest of the model is Llama's (Llama.cs).

/// <summary>
/// Multi-head Latent Attention in training form (MHA2MLA, DeepSeek-V2): the cache holds a latent
/// c = W_down·x (R wide) and rotated keys on r kept frequency pairs per KV head. Keys and values
/// are rebuilt from the latent: k = [RoPE(W_k_rope·x) ; W_up_k·c], v = W_up_v·c. Query heads hold
/// their dimensions in <see cref="HeadLayout"/> order (q_proj rows were permuted to match), so
/// q·k = q_rope·k_rope + q_nope·k_nope, scaled by 1/√d_h as in the original model.
/// With a latent norm (DeepSeek's kv_a_layernorm) c = RMSNorm(W_down·x): the cache holds the
/// normed latent and everything downstream reads it.
/// With one shared rope head (RoRoPE, mla.rope_heads = 1) the cache holds one rotated key head of
/// 2r that every query head reads, each query head is [2r rope | d_h position-free] (the keys'
/// position-free part is d_h wide too), and scores scale by 1/√(d_h + 2r): DeepSeek's layout.
/// </summary>
public sealed class MlaAttention : Attention
{
    private readonly ModelConfig config;
    private readonly int ropeHeads;        // n_kv, or 1 when shared
    private readonly int ropeWidth;        // 2r per rope head
    private readonly int nopeWidth;        // d_h − 2r, or d_h when shared (DeepSeek-V3: qk_nope_head_dim)
    private readonly int valueWidth;       // d_h (DeepSeek-V3: v_head_dim)
    private readonly double queryScale;    // DeepSeek-V3 under yarn: its softmax scale's extra factor (1 otherwise)
    private readonly Tensor keyRopeDims;   // (ropeHeads·2r) indices into the full RoPE tables
    private readonly Tensor queryRopeDims; // (n_h·2r): each query head uses its rope head's pairs

    /// <summary>The query's low-rank bottleneck and its norm (DeepSeek-V3's q_a_proj, q_a_layernorm), or null where q_proj reads x itself.</summary>
    public Linear? QDown { get; }
    public RmsNorm? QNorm { get; }
    public Linear Q { get; }
    public Linear KvDown { get; }
    public Linear KRope { get; }
    public Linear KUp { get; }
    public Linear VUp { get; }
    public Linear O { get; }
    public RmsNorm? LatentNorm { get; }

    /// <summary>ε of the latent norm: transformers' DeepseekV3RMSNorm default, which kv_a_layernorm uses.</summary>
    public const double LatentNormEps = 1e-6;

    /// <param name="pairs">The RoPE pairs each rope head keeps (config.json's mla.pairs[layer]): one list per KV head, or one shared.</param>
    /// <param name="latent">The latent width R.</param>
    /// <param name="sharedRopeHead">One rope head read by every query head (mla.rope_heads = 1).</param>
    /// <param name="widths">A DeepSeek-V3 checkpoint's own widths (mla's nope_dim, value_dim, query_lora_rank); null: derived from d_h.</param>
    public MlaAttention(ModelConfig config, int[][] pairs, int latent, bool latentNorm, WeightSource source, bool sharedRopeHead = false, MlaSettings? widths = null)
    {
        this.config = config;
        var (d, dh, kv, heads) = (config.HiddenSize, config.HeadDim, config.NumKeyValueHeads, config.NumAttentionHeads);
        ropeHeads = sharedRopeHead ? 1 : kv;
        ropeWidth = 2 * pairs[0].Length;
        nopeWidth = widths?.NopeDim ?? (sharedRopeHead ? dh : dh - ropeWidth);
        valueWidth = widths?.ValueDim ?? dh;
        queryScale = config.IsDeepSeekV3 ? DeepSeekV3Weights.SoftmaxMscale(config.Rope) : 1.0;
        if (pairs.Length != ropeHeads) throw new ArgumentException($"{pairs.Length} lists of pairs for {ropeHeads} rope heads", nameof(pairs));
        if (widths?.QueryLoraRank is { } rank)
        {
            QDown = Child("q_a_proj", source, s => new Linear(s, rank, d, bias: false));
            QNorm = Child("q_a_layernorm", source, s => new RmsNorm(s, rank, LatentNormEps));
        }
        Q = Child("q_proj", source, s => new Linear(s, heads * (ropeWidth + nopeWidth), widths?.QueryLoraRank ?? d, config.QkvBias));
        KvDown = Child("kv_down_proj", source, s => new Linear(s, latent, d, bias: false));
        KRope = Child("k_rope_proj", source, s => new Linear(s, ropeHeads * ropeWidth, d, config.QkvBias));
        KUp = Child("k_up_proj", source, s => new Linear(s, kv * nopeWidth, latent, config.QkvBias));
        VUp = Child("v_up_proj", source, s => new Linear(s, kv * valueWidth, latent, config.QkvBias));
        O = Child("o_proj", source, s => new Linear(s, d, heads * valueWidth, config.OutputBias));
        LatentNorm = latentNorm ? Child("kv_latent_norm", source, s => new RmsNorm(s, latent, LatentNormEps)) : null;

        var perKvHead = pairs.Select(p => HeadLayout.RopeDims(dh, p).Select(i => (long)i).ToArray()).ToArray();
        // On the weights' device once, not copied there at every forward.
        using var scope = torch.NewDisposeScope();
        var device = Q.Weight.device;
        keyRopeDims = torch.tensor(perKvHead.SelectMany(i => i).ToArray()).to(device).DetachFromDisposeScope();
        queryRopeDims = torch.tensor(Enumerable.Range(0, heads).SelectMany(h => perKvHead[sharedRopeHead ? 0 : h / config.GroupSize]).ToArray()).to(device).DetachFromDisposeScope();
    }

    /// <summary>The width of each query head and of each key: 2r + the position-free dims (d_h, or d_h + 2r with a shared rope head).</summary>
    public int QueryKeyWidth => ropeWidth + nopeWidth;

    public override Tensor Forward(Tensor x, Tensor cos, Tensor sin, AttentionMask mask, LayerCache? cache = null)
    {
        var (batch, length) = (x.size(0), x.size(1));
        var heads = config.NumAttentionHeads;

        var query = Q.Forward(QDown is null ? x : QNorm!.Forward(QDown.Forward(x))).view(batch, length, heads, QueryKeyWidth).transpose(1, 2);
        if (queryScale != 1.0) query = query * queryScale;
        var queryRope = Rotate(query.narrow(-1, 0, ropeWidth), cos, sin, queryRopeDims, heads);
        var queryNope = query.narrow(-1, ropeWidth, nopeWidth);
        var latent = KvDown.Forward(x);                                                               // (B, T, R)
        if (LatentNorm is not null) latent = LatentNorm.Forward(latent);
        var keyRope = Rotate(KRope.Forward(x).view(batch, length, ropeHeads, ropeWidth).transpose(1, 2), cos, sin, keyRopeDims, ropeHeads);
        if (cache is LatentCache cached)
        {
            // The cache holds only the latent and the rotated keys of the kept pairs.
            cached.Latent.Append(latent.unsqueeze(1));
            cached.RotatedKeys.Append(keyRope);
            (latent, keyRope) = (cached.Latent.Read(latent.dtype).select(1, 0), cached.RotatedKeys.Read(keyRope.dtype));
        }
        var attended = cache is LatentCache { Absorb: true }
            ? Absorbed(config, queryRope, queryNope, latent, keyRope, KUp, VUp, mask)
            : Expanded(queryRope, queryNope, latent, keyRope, mask);
        return O.Forward(attended);
    }

    // Keys and values rebuilt from the latent: k = [k_rope ; W_up_k·c], v = W_up_v·c (a shared rope head serves every KV head).
    private Tensor Expanded(Tensor queryRope, Tensor queryNope, Tensor latent, Tensor keyRope, AttentionMask mask)
    {
        var (batch, keys, kvHeads) = (latent.size(0), latent.size(1), config.NumKeyValueHeads);
        var keyNope = KUp.Forward(latent).view(batch, keys, kvHeads, nopeWidth).transpose(1, 2);
        var value = VUp.Forward(latent).view(batch, keys, kvHeads, valueWidth).transpose(1, 2);
        if (ropeHeads != kvHeads) keyRope = keyRope.expand(batch, kvHeads, keys, ropeWidth);
        return ScaledDotProduct(config, torch.cat([queryRope, queryNope], -1), torch.cat([keyRope, keyNope], -1), value, mask);
    }

    // x (B, heads, T, 2r) rotated at each head's own frequencies, picked out of the full tables (b, 1, T, d_h).
    private Tensor Rotate(Tensor x, Tensor cos, Tensor sin, Tensor dims, int heads)
    {
        var (tables, length) = (cos.size(0), cos.size(2));
        Tensor Table(Tensor full) => full.index_select(3, dims).view(tables, length, heads, ropeWidth).transpose(1, 2);
        return x * Table(cos) + RotaryEmbedding.RotateHalf(x) * Table(sin);
    }

    public override void Dispose()
    {
        base.Dispose();
        keyRopeDims.Dispose();
        queryRopeDims.Dispose();
    }
}

/// <summary>
/// How MLA lays out one head's d_h dimensions: the kept RoPE pairs first, in rotate_half form
/// ([k₀ … k_{r−1}, k₀+d_h/2 … k_{r−1}+d_h/2]), then the position-free dimensions in their
/// original order. Position i of the new layout holds original dimension Order[i].
/// </summary>
public static class HeadLayout
{
    public static int[] RopeFirst(int headDim, IReadOnlyList<int> pairs)
    {
        var rope = RopeDims(headDim, pairs);
        var kept = rope.ToHashSet();
        return [.. rope, .. Enumerable.Range(0, headDim).Where(d => !kept.Contains(d))];
    }

    /// <summary>The 2r original dimensions the kept pairs rotate: [k₀ … k_{r−1}, k₀+d_h/2 … k_{r−1}+d_h/2].</summary>
    public static int[] RopeDims(int headDim, IReadOnlyList<int> pairs) =>
        [.. pairs, .. pairs.Select(k => k + headDim / 2)];

    /// <summary>Row indices that reorder a (heads·d_h)-row projection head by head.</summary>
    public static long[] Rows(int headDim, IReadOnlyList<int[]> orderPerHead) =>
        orderPerHead.SelectMany((order, head) => order.Select(d => (long)(head * headDim + d))).ToArray();
}
