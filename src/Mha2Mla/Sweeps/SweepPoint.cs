using Mha2Mla.Conversion;

namespace Mha2Mla.Sweeps;

/// <summary>One conversion of a sweep: the settings that vary between points. Null pairs and width take the model's defaults (d_h/16, d_kv = d_h/8).</summary>
public sealed record SweepPoint(RopeStrategy Strategy, int? RopePairs, SvdMode Svd, LatentWidth? Width, RopeScore Score = RopeScore.Product, bool KvBalance = false,
    bool RopeCompensation = false, int? FreqFold = null)
{
    /// <summary>
    /// The point's directory name, e.g. "2-norm-r4-joint-dkv8" or "high-r4-activation-kv12.5pct";
    /// "-sum", "-fF", "-rc" and "-bkv" follow where --rope-score sum, --freq-fold F, --rope-compensation and --kv-balance apply.
    /// </summary>
    public string Name
    {
        get
        {
            var pairs = RopePairs is { } r ? $"r{r}" : "rdefault";
            var width = Width?.Tag ?? "dkvdefault";
            var score = Score == RopeScore.Sum ? "-sum" : FreqFold is { } f ? $"-f{f}" : "";
            var compensation = RopeCompensation ? "-rc" : "";
            var balance = KvBalance ? "-bkv" : "";
            return $"{RopeSelection.Name(Strategy)}{score}-{pairs}{compensation}-{Svd.ToString().ToLowerInvariant()}-{width}{balance}";
        }
    }

    /// <summary>The shared settings (damping, ...) with this point's choices.</summary>
    public ConversionRequest Request(ConversionRequest shared) =>
        shared with { Strategy = Strategy, RopePairs = RopePairs, Width = Width, Svd = Svd, Score = Score, KvBalance = KvBalance, RopeCompensation = RopeCompensation, FreqFold = FreqFold };

    /// <summary>
    /// Every combination of the lists, in the order given (strategy, then score or fold, pairs,
    /// compensation, svd, width, balance). Widths are the ranks then the budgets; an empty list means
    /// the convert default (for compensation: the strategy's, so a point is named by what it applied). A score other than product applies to 2-norm only and folds to rorope
    /// only, so other strategies take neither.
    /// </summary>
    public static IReadOnlyList<SweepPoint> Grid(IReadOnlyList<RopeStrategy> strategies, IReadOnlyList<int> pairs, IReadOnlyList<SvdMode> svds,
        IReadOnlyList<int> ranks, IReadOnlyList<KvBudget> budgets, IReadOnlyList<RopeScore>? scores = null, IReadOnlyList<bool>? balances = null,
        IReadOnlyList<bool>? compensations = null, IReadOnlyList<int>? folds = null)
    {
        IEnumerable<LatentWidth?> widths = [.. ranks.Select(r => new UniformRank(r)), .. budgets];
        if (!widths.Any()) widths = [null];
        IEnumerable<int?> pairList = pairs.Count == 0 ? [null] : pairs.Select(p => (int?)p);
        var points = (from s in strategies.Count == 0 ? [RopeStrategy.TwoNorm] : strategies
                      from c in s == RopeStrategy.TwoNorm && scores is { Count: > 0 } ? scores : [RopeScore.Product]
                      from f in s == RopeStrategy.RoRope && folds is { Count: > 0 } ? folds.Select(f => (int?)f) : [null]
                      from p in pairList
                      from rc in compensations is { Count: > 0 } ? compensations : [ConversionRequest.CompensatesByDefault(s)]
                      from v in svds.Count == 0 ? [SvdMode.Joint] : svds
                      from w in widths
                      from b in balances is { Count: > 0 } ? balances : [false]
                      select new SweepPoint(s, p, v, w, c, b, rc, f)).ToList();
        var twice = points.GroupBy(p => p.Name).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null) throw new InvalidInputException($"the sweep lists point {twice.Key} more than once; give each value once");
        return points;
    }

    public override string ToString() => Name;
}
