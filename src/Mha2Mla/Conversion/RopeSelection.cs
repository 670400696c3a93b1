namespace Mha2Mla.Conversion;

/// <summary>Which frequencies keep RoPE: per KV head by score (2-norm) or by rule, or in one shared head after mixing the KV heads (rorope, <see cref="RoRope"/>).</summary>
public enum RopeStrategy { TwoNorm, High, Low, Uniform, RoRope }

/// <summary>
/// How 2-norm combines a pair's query and key norms into its score (see <see cref="PairNormStatistics"/>):
/// product, as the MHA2MLA authors' current code; sum, as their code and rank files before June 2025.
/// </summary>
public enum RopeScore { Product, Sum }

/// <summary>
/// Which r frequency pairs (of d_h/2) keep RoPE. Pair k is dimensions (k, k + d_h/2) with
/// frequency base^(−2k/d_h), so low k rotate fastest ("high" frequencies).
/// </summary>
public static class RopeSelection
{
    public static RopeStrategy Parse(string name) => name switch
    {
        "2-norm" => RopeStrategy.TwoNorm,
        "high" => RopeStrategy.High,
        "low" => RopeStrategy.Low,
        "uniform" => RopeStrategy.Uniform,
        "rorope" => RopeStrategy.RoRope,
        _ => throw new InvalidInputException($"--rope-strategy '{name}' is not one of 2-norm, high, low, uniform, rorope"),
    };

    public static RopeScore ParseScore(string name) => name switch
    {
        "product" => RopeScore.Product,
        "sum" => RopeScore.Sum,
        _ => throw new InvalidInputException($"--rope-score '{name}' is not one of product, sum"),
    };

    public static string Name(RopeScore score) => score == RopeScore.Sum ? "sum" : "product";

    public static string Name(RopeStrategy strategy) => strategy switch
    {
        RopeStrategy.TwoNorm => "2-norm",
        RopeStrategy.High => "high",
        RopeStrategy.Low => "low",
        RopeStrategy.RoRope => "rorope",
        _ => "uniform",
    };

    /// <summary>The pairs of a data-free strategy: high k ∈ {0…r−1}, low k ∈ {d_h/2−r…}, uniform k = ⌊i·(d_h/2)/r⌋.</summary>
    public static int[] Fixed(RopeStrategy strategy, int headDim, int r)
    {
        var half = headDim / 2;
        return strategy switch
        {
            RopeStrategy.High => Enumerable.Range(0, r).ToArray(),
            RopeStrategy.Low => Enumerable.Range(half - r, r).ToArray(),
            RopeStrategy.Uniform => Enumerable.Range(0, r).Select(i => i * half / r).ToArray(),
            _ => throw new ArgumentException("2-norm needs calibration scores", nameof(strategy)),
        };
    }

    /// <summary>The r pairs with the largest scores (ties go to the lower k), ascending.</summary>
    public static int[] TopPairs(IReadOnlyList<double> scores, int r) =>
        Enumerable.Range(0, scores.Count).OrderByDescending(k => scores[k]).ThenBy(k => k).Take(r).Order().ToArray();
}
