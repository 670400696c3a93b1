using System.Globalization;

namespace Mha2Mla.Conversion;

/// <summary>
/// The latent width a conversion asks for, as one choice: the same rank d_kv per KV head in every
/// layer (<see cref="UniformRank"/>, a latent of n_kv·d_kv), or a KV-cache budget the layers share
/// (<see cref="KvBudget"/>, each layer's width chosen by <see cref="RankAllocation"/>).
/// </summary>
public abstract record LatentWidth
{
    /// <summary>The paper's default, d_kv = d_h/8.</summary>
    public static LatentWidth Default(ModelConfig config) => new UniformRank(Math.Max(1, config.HeadDim / 8));

    /// <summary>How logs and reports say it: "d_kv = 8" or "--kv-budget 12.5%".</summary>
    public abstract string Description { get; }

    /// <summary>How a sweep point's directory name says it: "dkv8" or "kv12.5pct".</summary>
    public abstract string Tag { get; }
}

/// <summary>d_kv, the same in every layer (--kv-rank).</summary>
public sealed record UniformRank(int KvRank) : LatentWidth
{
    /// <summary>The latent width n_kv·d_kv.</summary>
    public int LatentDim(ModelConfig config) => config.NumKeyValueHeads * KvRank;
    public override string Description => $"d_kv = {KvRank}";
    public override string Tag => $"dkv{KvRank}";
}

/// <summary>
/// A KV-cache budget for per-layer latent widths (--kv-budget): "12.5%" of the original cache, or
/// "96" elements per token per layer on average (the MLA cache: latent plus rotated keys).
/// </summary>
public sealed record KvBudget(string Text, double? Percent, double? ElementsPerLayer) : LatentWidth
{
    public override string Description => $"--kv-budget {Text}";
    public override string Tag => "kv" + Text.Replace("%", "pct", StringComparison.Ordinal);

    public static KvBudget Parse(string text)
    {
        var t = text.Trim();
        var percent = t.EndsWith('%');
        if (!double.TryParse(percent ? t[..^1] : t, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !(value > 0) || double.IsInfinity(value))
            throw new InvalidInputException($"--kv-budget '{text}' is neither a percentage of the original cache (e.g. 12.5%) nor elements per token per layer (e.g. 96)");
        if (percent && value >= 100)
            throw new InvalidInputException($"--kv-budget {t} is not smaller than the original cache; give a percentage below 100");
        return percent ? new KvBudget(t, value, null) : new KvBudget(t, null, value);
    }

    /// <summary>
    /// The latent elements per token all layers share: the budget's cache minus the rotated keys
    /// every layer keeps (n_kv·2r each).
    /// </summary>
    public long LatentTotal(ModelConfig config, int ropePairs)
    {
        var layers = config.NumHiddenLayers;
        var original = 2L * config.NumKeyValueHeads * config.HeadDim;
        if (ElementsPerLayer >= original)
            throw new InvalidInputException($"--kv-budget {Text} is not smaller than the original cache ({original} elements per token per layer); give fewer elements, or a percentage below 100");
        var cache = Percent is { } p
            ? p / 100 * 2.0 * config.NumKeyValueHeads * config.HeadDim * layers
            : ElementsPerLayer!.Value * layers;
        return (long)Math.Floor(cache + 1e-9) - (long)layers * config.NumKeyValueHeads * 2 * ropePairs;
    }
}
