namespace Mha2Mla.Conversion;

/// <summary>
/// The 2-norm strategy's statistics for one layer: for each head and frequency pair k, the sum
/// over calibration tokens of ‖x^{(k)}‖ = √(x_k² + x_{k+d_h/2}²) for q (before RoPE) and k
/// (before RoPE). Every token counts once, whichever sample it came from. Each query head h of
/// KV head j's group scores pair k with its key, and the group's scores add up:
/// product: Score[j, k] = Σ_{h in group j} mean ‖q_h^{(k)}‖ · mean ‖k_j^{(k)}‖;
/// sum:     Score[j, k] = Σ_{h in group j} (mean ‖q_h^{(k)}‖ + mean ‖k_j^{(k)}‖).
/// </summary>
public sealed class PairNormStatistics(int heads, int kvHeads, int headDim)
{
    private readonly double[,] querySums = new double[heads, headDim / 2];
    private readonly double[,] keySums = new double[kvHeads, headDim / 2];
    private long tokens;

    /// <param name="query">(B, n_h, T, d_h) before RoPE.</param>
    /// <param name="key">(B, n_kv, T, d_h) before RoPE.</param>
    public void Add(Tensor query, Tensor key)
    {
        using var scope = torch.NewDisposeScope();
        Accumulate(query, querySums);
        Accumulate(key, keySums);
        tokens += query.size(0) * query.size(2);
    }

    private void Accumulate(Tensor x, double[,] sums)
    {
        var half = headDim / 2;
        var norms = (x.narrow(-1, 0, half).pow(2) + x.narrow(-1, half, half).pow(2)).sqrt();   // (B, heads, T, half)
        var perHead = norms.to(ScalarType.Float64).sum([0, 2]).data<double>();                  // (heads, half)
        for (var h = 0; h < sums.GetLength(0); h++)
            for (var k = 0; k < half; k++) sums[h, k] += perHead[h * half + k];
    }

    public double[][] Scores(RopeScore combine = RopeScore.Product)
    {
        if (tokens == 0) throw new InvalidOperationException("no calibration tokens were seen");
        var half = headDim / 2;
        var group = heads / kvHeads;
        var scores = new double[kvHeads][];
        for (var j = 0; j < kvHeads; j++)
        {
            scores[j] = new double[half];
            for (var k = 0; k < half; k++)
            {
                double queryTerm = 0;
                for (var h = j * group; h < (j + 1) * group; h++) queryTerm += querySums[h, k] / tokens;
                var keyTerm = keySums[j, k] / tokens;
                scores[j][k] = combine == RopeScore.Sum ? queryTerm + group * keyTerm : queryTerm * keyTerm;
            }
        }
        return scores;
    }
}
