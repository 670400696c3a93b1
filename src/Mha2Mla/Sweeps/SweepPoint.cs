using Mha2Mla.Conversion;

namespace Mha2Mla.Sweeps;

/// <summary>One conversion of a sweep: the settings that vary between points. Null pairs and width take the model's defaults (d_h/16, d_kv = d_h/8).</summary>
public sealed record SweepPoint(RopeStrategy Strategy, int? RopePairs, SvdMode Svd, LatentWidth? Width)
{
    /// <summary>The point's directory name, e.g. "2-norm-r4-joint-dkv8" or "high-r4-activation-kv12.5pct".</summary>
    public string Name
    {
        get
        {
            var pairs = RopePairs is { } r ? $"r{r}" : "rdefault";
            var width = Width?.Tag ?? "dkvdefault";
            return $"{RopeSelection.Name(Strategy)}-{pairs}-{Svd.ToString().ToLowerInvariant()}-{width}";
        }
    }

    /// <summary>The shared settings (damping, ...) with this point's choices.</summary>
    public ConversionRequest Request(ConversionRequest shared) =>
        shared with { Strategy = Strategy, RopePairs = RopePairs, Width = Width, Svd = Svd };

    /// <summary>
    /// Every combination of the lists, in the order given (strategy, then pairs, svd, width). Widths
    /// are the ranks then the budgets; an empty list means the convert default.
    /// </summary>
    public static IReadOnlyList<SweepPoint> Grid(IReadOnlyList<RopeStrategy> strategies, IReadOnlyList<int> pairs, IReadOnlyList<SvdMode> svds,
        IReadOnlyList<int> ranks, IReadOnlyList<KvBudget> budgets)
    {
        IEnumerable<LatentWidth?> widths = [.. ranks.Select(r => new UniformRank(r)), .. budgets];
        if (!widths.Any()) widths = [null];
        IEnumerable<int?> pairList = pairs.Count == 0 ? [null] : pairs.Select(p => (int?)p);
        var points = (from s in strategies.Count == 0 ? [RopeStrategy.TwoNorm] : strategies
                      from p in pairList
                      from v in svds.Count == 0 ? [SvdMode.Joint] : svds
                      from w in widths
                      select new SweepPoint(s, p, v, w)).ToList();
        var twice = points.GroupBy(p => p.Name).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null) throw new InvalidInputException($"the sweep lists point {twice.Key} more than once; give each value once");
        return points;
    }

    public override string ToString() => Name;

}
