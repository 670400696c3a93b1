using System.Globalization;
using System.Text;
using System.Text.Json;
using Mha2Mla.Conversion;

namespace Mha2Mla.Sweeps;

/// <summary>One row of results.csv / results.json: a point's settings, KV figures and perplexities, from its report.</summary>
public sealed record SweepResult(
    string Name, string RopeStrategy, string? RopeScore, int? FreqFold, int RopePairs, bool RopeCompensation, string Svd, bool KvBalance, int? KvRank, string? KvBudget, double LatentMean,
    long KvElementsPerToken, long KvBytesPerToken, double KvReductionPercent,
    double? PerplexityOriginal, double? PerplexityConverted, double? PerplexityFinetuned, double Seconds)
{
    /// <summary>The perplexity a curve shows: after the fine-tune where there was one.</summary>
    public double? Perplexity => PerplexityFinetuned ?? PerplexityConverted;

    public static SweepResult From(string name, ConversionReport report) => new(
        name, report.Settings.RopeStrategy, report.Settings.RopeScore, report.Settings.FreqFold, report.Settings.RopePairs, report.Rope.Compensation is not null, report.Settings.Svd,
        report.Settings.KvBalance is not null,
        report.Settings.KvRank, report.Settings.KvBudget,
        report.Settings.LatentDims.Average(), report.KvCache.ElementsPerToken.Mla, report.KvCache.BytesPerToken.Mla, report.KvCache.ReductionPercent,
        report.Perplexity.Original, report.Perplexity.Converted, report.Perplexity.Finetuned, report.Stages.Sum(s => s.Seconds));

    private static readonly string[] Columns =
    [
        "name", "rope_strategy", "rope_score", "freq_fold", "rope_pairs", "rope_compensation", "svd", "kv_balance", "kv_rank", "kv_budget", "latent_mean", "kv_elements_per_token", "kv_bytes_per_token",
        "kv_reduction_percent", "perplexity_original", "perplexity_converted", "perplexity_finetuned", "seconds",
    ];

    public static string Csv(IEnumerable<SweepResult> rows)
    {
        var c = CultureInfo.InvariantCulture;
        string N(double? v) => v is { } x ? x.ToString("R", c) : "";
        var csv = new StringBuilder().AppendLine(string.Join(',', Columns));
        foreach (var r in rows)
            csv.AppendLine(string.Join(',', r.Name, r.RopeStrategy, r.RopeScore ?? "", r.FreqFold?.ToString(c) ?? "", r.RopePairs.ToString(c), r.RopeCompensation ? "true" : "false", r.Svd, r.KvBalance ? "true" : "false", r.KvRank?.ToString(c) ?? "", r.KvBudget ?? "",
                N(r.LatentMean), r.KvElementsPerToken.ToString(c), r.KvBytesPerToken.ToString(c), N(r.KvReductionPercent),
                N(r.PerplexityOriginal), N(r.PerplexityConverted), N(r.PerplexityFinetuned), r.Seconds.ToString("F1", c)));
        return csv.ToString();
    }
}
