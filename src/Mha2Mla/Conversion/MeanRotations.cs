namespace Mha2Mla.Conversion;

/// <summary>
/// RoPE compensation's statistics for one layer (docs/design.md, "RoPE compensation"): for each
/// KV head j and frequency pair k, the attention-weighted mean of the rotation a query at s and a
/// key at t see between them, M = E[R(φ_s)ᵀ R(φ_t)] = [[C, −S], [S, C]] with
/// C = E[cos φ_s cos φ_t + sin φ_s sin φ_t] and S = E[cos φ_s sin φ_t − sin φ_s cos φ_t]
/// (= cos and sin of θ_k·(t − s) at plain RoPE), the expectation over every calibration query of
/// the group's query heads and its attention weights a(s, t) in the original model. The RoPE
/// tables carry any scaling (yarn's attention factor, llama3's bands), so M does too.
/// </summary>
public sealed class MeanRotations(int heads, int kvHeads, int headDim)
{
    private readonly double[,] cosines = new double[kvHeads, headDim / 2];
    private readonly double[,] sines = new double[kvHeads, headDim / 2];
    private long queries;

    /// <param name="weights">(1, n_h, T, T) the original attention's weights over one sample (rows sum to 1).</param>
    /// <param name="cos">(…, T, d_h) the RoPE table at positions 0 … T−1; <paramref name="sin"/> alike.</param>
    public void Add(Tensor weights, Tensor cos, Tensor sin)
    {
        using var scope = torch.NewDisposeScope();
        var (half, length, group) = (headDim / 2, weights.size(2), heads / kvHeads);
        var c = cos.reshape(length, headDim).narrow(1, 0, half).to(ScalarType.Float64);                    // (T, half): cos φ_t of pair k
        var s = sin.reshape(length, headDim).narrow(1, 0, half).to(ScalarType.Float64);
        // Each KV head's weights summed over its group's query heads: (n_kv, T, T).
        var grouped = weights.to(ScalarType.Float64).reshape(kvHeads, group, length, length).sum([1]);
        var (weightedCos, weightedSin) = (grouped.matmul(c), grouped.matmul(s));                            // Σ_t a(s,t)·cos φ_t: (n_kv, T, half)
        var meanCos = (weightedCos * c + weightedSin * s).sum([1]).data<double>();                          // Σ_s: (n_kv, half)
        var meanSin = (weightedSin * c - weightedCos * s).sum([1]).data<double>();
        for (var j = 0; j < kvHeads; j++)
            for (var k = 0; k < half; k++)
            {
                cosines[j, k] += meanCos[j * half + k];
                sines[j, k] += meanSin[j * half + k];
            }
        queries += group * length;
    }

    /// <summary>
    /// softmax(RoPE(q)·RoPE(k)ᵀ/√d_h + mask) of the original attention, (1, n_h, T, T), in fp32: the
    /// weights with which each query saw each key.
    /// </summary>
    public static Tensor AttentionWeights(ModelConfig config, Tensor query, Tensor key, Tensor cos, Tensor sin, Tensor forbidden) =>
        Attention.Weights(config, RotaryEmbedding.Apply(query, cos, sin).to(ScalarType.Float32), RotaryEmbedding.Apply(key, cos, sin).to(ScalarType.Float32), forbidden);

    /// <summary>[kv head][pair] = (C, S), the mean over every query seen.</summary>
    public (double C, double S)[][] Factors()
    {
        if (queries == 0) throw new InvalidOperationException("no calibration tokens were seen");
        return Enumerable.Range(0, kvHeads).Select(j => Enumerable.Range(0, headDim / 2)
            .Select(k => (cosines[j, k] / queries, sines[j, k] / queries)).ToArray()).ToArray();
    }
}
