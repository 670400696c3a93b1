namespace Mha2Mla.Models;

/// <summary>
/// What every attention block shares: the kernels that compute softmax(q·kᵀ/√d_h + mask)·v —
/// PyTorch's fused scaled_dot_product_attention, the explicit form (in causal blocks at long
/// context), and MLA's absorbed form over a cached latent — and the masks they read. The blocks
/// themselves are <see cref="LlamaAttention"/> (Llama.cs) and <see cref="MlaAttention"/> (Mla.cs).
/// </summary>
public abstract class Attention : Module
{
    /// <summary>The layer's sliding window (Mistral, Qwen2's sliding layers), or null for full causal attention; set by its <see cref="DecoderLayer"/>.</summary>
    public int? SlidingWindow { get; internal set; }

    /// <summary>How the scores are computed (fused SDPA where libtorch has it); set by the model, a setting rather than a weight.</summary>
    public AttentionKernel Kernel { get; internal set; } = AttentionKernel.Default;

    /// <param name="x">(B, T, d) hidden states of the new tokens.</param>
    /// <param name="cos">RoPE tables at the new tokens' positions, (1 or B, 1, T, d_h); <paramref name="sin"/> alike.</param>
    /// <param name="mask">What each query may attend to.</param>
    /// <param name="cache">The layer's cache, if any: new keys are appended to it, and attention reads all of it.</param>
    public abstract Tensor Forward(Tensor x, Tensor cos, Tensor sin, AttentionMask mask, LayerCache? cache = null);

    /// <summary>
    /// softmax(q·kᵀ/√d_h + mask)·v for q (B, n_h, T, d_h) and k, v (B, n_kv, T_keys, ·), each KV
    /// head serving its group of query heads; returns (B, T, n_h·d_v). Below fp32 the softmax
    /// runs in fp32, as transformers' eager attention and the fused kernels do.
    /// </summary>
    protected Tensor ScaledDotProduct(ModelConfig config, Tensor query, Tensor key, Tensor value, AttentionMask mask)
    {
        var (batch, length) = (query.size(0), query.size(2));
        key = RepeatKv(config, key);
        value = RepeatKv(config, value);
        var plain = mask.IsPlainCausal(SlidingWindow);
        var attended = Resolve(Kernel) == AttentionKernel.Sdpa
            ? torch.nn.functional.scaled_dot_product_attention(query, key, value, plain ? null : mask.Allowed(SlidingWindow), is_causal: plain)
            : Explicit(query, key, value, mask);
        return attended.transpose(1, 2).reshape(batch, length, config.NumAttentionHeads * value.size(-1));
    }

    /// <summary>
    /// MLA's absorbed form (docs/design.md, "Absorbed decoding"): W_up_k moves onto the query and
    /// W_up_v after the weighted sum, so attention runs against the cached latent c itself and no
    /// key or value is rebuilt: score = q_rope·k_rope + (W_up_k,jᵀ q_nope)·c, o = W_up_v,j (Σ a c) + b_v.
    /// The position-free key bias adds one constant to all of a query's scores, which softmax
    /// ignores, so it drops out. Always explicit: its scores are sums of two products of different
    /// widths, which scaled_dot_product_attention (one q·k, scaled by its own width) cannot express.
    /// </summary>
    /// <param name="queryRope">(B, n_h, T, 2r) rotated queries; <paramref name="queryNope"/> (B, n_h, T, d_h − 2r, or d_h beside a shared rope head) the rest.</param>
    /// <param name="latent">(B, T_keys, R); <paramref name="keyRope"/> (B, n_kv or 1 shared, T_keys, 2r). Scores scale by the query's whole width.</param>
    /// <returns>(B, T, n_h·d_v)</returns>
    protected Tensor Absorbed(ModelConfig config, Tensor queryRope, Tensor queryNope, Tensor latent, Tensor keyRope, Linear upKey, Linear upValue, AttentionMask mask)
    {
        var (batch, length, keys, ropeWidth) = (queryRope.size(0), queryRope.size(2), latent.size(1), queryRope.size(3));
        var (heads, kvHeads, group, rank) = (config.NumAttentionHeads, config.NumKeyValueHeads, config.GroupSize, latent.size(2));
        var valueWidth = upValue.Weight.size(0) / kvHeads;   // d_h (DeepSeek-V3: v_head_dim)
        var nopeWidth = queryNope.size(3);   // d_h − 2r, or d_h beside a shared rope head

        var queryLatent = queryNope.reshape(batch, kvHeads, group, length, nopeWidth)
            .matmul(upKey.Weight.view(1, kvHeads, 1, nopeWidth, rank));                                // (B, n_kv, g, T, R)
        var latentT = latent.unsqueeze(1).unsqueeze(1);                                                // (B, 1, 1, Tk, R)
        using var scores = queryLatent.matmul(latentT.transpose(3, 4));
        scores.add_(queryRope.reshape(batch, kvHeads, group, length, ropeWidth).matmul(keyRope.unsqueeze(2).transpose(3, 4)));
        var flat = scores.view(batch, heads, length, keys);
        flat.mul_(1.0 / Math.Sqrt(ropeWidth + nopeWidth)).masked_fill_(mask.Forbidden(SlidingWindow), double.NegativeInfinity);
        using var weights = Softmax(flat);
        var context = weights.view(batch, kvHeads, group, length, keys).matmul(latentT);              // (B, n_kv, g, T, R)
        var output = context.matmul(upValue.Weight.view(1, kvHeads, 1, valueWidth, rank).transpose(3, 4)); // (B, n_kv, g, T, d_v)
        if (upValue.Bias is { } bias) output = output + bias.view(1, kvHeads, 1, 1, valueWidth);
        return output.reshape(batch, heads, length, valueWidth).transpose(1, 2).reshape(batch, length, heads * valueWidth);
    }

    /// <summary>The kernel <see cref="AttentionKernel.Default"/> stands for with this libtorch.</summary>
    public static AttentionKernel Resolve(AttentionKernel kernel) => kernel != AttentionKernel.Default ? kernel
        : torch.nn.functional.scaled_dot_product_attention_is_fused ? AttentionKernel.Sdpa : AttentionKernel.Explicit;

    /// <summary>Queries per block of the explicit form at long context (see <see cref="Explicit"/>).</summary>
    internal const long CausalBlock = 512;

    // Causal attention never looks ahead, so each block of queries needs only the keys up to its
    // own end: the upper triangle of the scores is skipped, about half their work and memory at
    // long context (what the fused kernels do too). Other masks take the dense form.
    private Tensor Explicit(Tensor query, Tensor key, Tensor value, AttentionMask mask)
    {
        var length = query.size(2);
        if (!mask.IsPlainCausal(SlidingWindow) || length <= CausalBlock) return Dense(query, key, value, mask.Forbidden(SlidingWindow));
        var blocks = new List<Tensor>();
        for (long start = 0; start < length; start += CausalBlock)
        {
            var (rows, keys) = (Math.Min(CausalBlock, length - start), Math.Min(start + CausalBlock, length));
            using var forbidden = AttentionMask.CausalRows(start, rows, keys, null, query.device);
            blocks.Add(Dense(query.narrow(2, start, rows), key.narrow(2, 0, keys), value.narrow(2, 0, keys), forbidden));
        }
        return torch.cat(blocks, 2);
    }

    private static Tensor Dense(Tensor query, Tensor key, Tensor value, Tensor forbidden)
    {
        using var weights = Weights(query, key, forbidden);
        return weights.matmul(value);
    }

    /// <summary>
    /// softmax(q·kᵀ/√d_h + mask) for q (B, n_h, T, d_h) and k (B, n_kv, T_keys, d_h): the weight each
    /// query gives each key, (B, n_h, T, T_keys), in the explicit form's arithmetic (what a
    /// conversion's calibration reads, e.g. RoPE compensation).
    /// </summary>
    internal static Tensor Weights(ModelConfig config, Tensor query, Tensor key, Tensor forbidden) => Weights(query, RepeatKv(config, key), forbidden);

    private static Tensor Weights(Tensor query, Tensor key, Tensor forbidden)
    {
        // The (B, n_h, T, T) scores dominate memory at long context: scale and mask them in place
        // and free them as soon as the softmax has read them, as PyTorch's refcounting would.
        using var scores = query.matmul(key.transpose(2, 3));
        scores.mul_(1.0 / Math.Sqrt(query.size(-1))).masked_fill_(forbidden, double.NegativeInfinity);
        return Softmax(scores);
    }

    /// <summary>softmax over the last dimension, in fp32 whatever the scores' dtype, returned in that dtype.</summary>
    private static Tensor Softmax(Tensor scores)
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
}

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

/// <summary>
/// What the queries of one forward pass may attend to: the rows of queries start … start+T−1
/// over keys 0 … keys−1, causal, within a layer's sliding window if it has one, with anything
/// else forbidden (<paramref name="alsoForbidden"/>, e.g. a batch's left padding) added. Plain
/// causal attention (queries 0 … T−1 over the same T keys, nothing else forbidden) needs no
/// tensor at all on the fused kernels (SDPA's is_causal), so the (T, T_keys) tensors are built
/// only when an attention form asks for them, once per window, and owned here.
/// </summary>
public sealed class AttentionMask(long start, long length, long keys, Device device, Tensor? alsoForbidden = null) : IDisposable
{
    private readonly Dictionary<int, Tensor> forbidden = [];
    private readonly Dictionary<int, Tensor> allowed = [];

    /// <summary>The mask of a whole sequence of <paramref name="length"/> tokens.</summary>
    public AttentionMask(long length, Device device) : this(0, length, length, device) { }

    /// <summary>True when a layer with this window sees exactly the causal mask over the same tokens.</summary>
    public bool IsPlainCausal(int? window) => start == 0 && length == keys && Effective(window) is null && alsoForbidden is null;

    /// <summary>True where attention is forbidden (the explicit form's masked_fill convention).</summary>
    public Tensor Forbidden(int? window) => Cached(forbidden, window, () =>
    {
        var rows = CausalRows(start, length, keys, Effective(window), device);
        return alsoForbidden is null ? rows : rows.logical_or(alsoForbidden);
    });

    /// <summary>True where attention is allowed (PyTorch's scaled_dot_product_attention convention).</summary>
    public Tensor Allowed(int? window) => Cached(allowed, window, () => Forbidden(window).logical_not());

    /// <summary>
    /// The (T, keys) causal rows of queries start … start+T−1: true where query i may not attend
    /// to key j (j > i, or with a window, i − j ≥ window). A decode step needs one row, never the square.
    /// </summary>
    internal static Tensor CausalRows(long start, long length, long keys, int? window, Device device)
    {
        using var scope = torch.NewDisposeScope();
        var all = torch.ones([length, keys], ScalarType.Bool, device);
        var forbidden = all.triu(start + 1);                                                            // the future: j > i
        if (window is { } w) forbidden = forbidden.logical_or(all.tril(start - w));                     // too far back: i − j ≥ window
        return forbidden.MoveToOuterDisposeScope();
    }

    // A window at least as long as the keys forbids nothing the causal mask allows.
    private int? Effective(int? window) => window >= keys ? null : window;

    // Whatever dispose scope asks first, each tensor lives as long as this object.
    private Tensor Cached(Dictionary<int, Tensor> built, int? window, Func<Tensor> build)
    {
        var key = Effective(window) ?? 0;
        if (built.TryGetValue(key, out var tensor)) return tensor;
        using var scope = torch.NewDisposeScope();
        return built[key] = build().DetachFromDisposeScope();
    }

    public void Dispose()
    {
        foreach (var tensor in forbidden.Values.Concat(allowed.Values)) tensor.Dispose();
        forbidden.Clear();
        allowed.Clear();
    }
}
