using System.Globalization;
using Mha2Mla.Configs;

namespace Mha2Mla.Conversion;

/// <summary>
/// A KV-cache budget for per-layer latent widths (--kv-budget): "12.5%" of the original cache, or
/// "96" elements per token per layer on average (the MLA cache: latent plus rotated keys).
/// </summary>
public sealed record KvBudget(string Text, double? Percent, double? ElementsPerLayer)
{
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
