using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Mha2Mla.Training;
using Mha2Mla.Diagnostics;

namespace Mha2Mla.Conversion;

/// <summary>mha2mla_report.json: what a conversion chose, what it saves, and what it cost.</summary>
public sealed record ConversionReport
{
    public required string Model { get; init; }
    public required string Output { get; init; }
    public required SettingsReport Settings { get; init; }
    public required RopeReport Rope { get; init; }
    public required KvCacheReport KvCache { get; init; }
    public required PerplexityReport Perplexity { get; init; }
    public required IReadOnlyList<StageMeasurement> Stages { get; init; }

    /// <summary>Every setting the conversion ran with, defaults filled in.</summary>
    /// <param name="KvRank">d_kv, or null where --kv-budget chose each layer's width (LatentDims).</param>
    /// <param name="Device">Where the conversion ran.</param>
    /// <param name="ComputeDtype">What the evaluations and the fine-tune computed in (calibration and SVDs: fp32).</param>
    /// <param name="RopeScore">2-norm's combination of query and key norms (product or sum); null for the other strategies.</param>
    /// <param name="KvBalance">--kv-balance: each layer's α (position-free keys divided by it, queries multiplied); null without.</param>
    /// <param name="FreqFold">rorope: the frequency pairs per group; null for the other strategies.</param>
    public sealed record SettingsReport(string RopeStrategy, int RopePairs, int? KvRank, string? KvBudget, int[] LatentDims, string Svd,
        DataOptions? Calibration, DataOptions? Evaluation, DataOptions? Training, TrainingOptions FineTune, string Device, string ComputeDtype,
        string? RopeScore = null, double[]? KvBalance = null, int? FreqFold = null);

    /// <param name="Pairs">[layer][kv head]: the kept pairs (rorope: [layer][0], the one shared head's, n_kv·r of them).</param>
    /// <param name="Compensation">--rope-compensation: [layer][kv head][pair] = [C, S] of the factor applied to each pair's key rows (kept pairs [1, 0]); null without.</param>
    /// <param name="SharedHeadEnergy">rorope: [layer][kept pair] the share of its frequency group's key energy the shared rope head carries; null for the other strategies.</param>
    public sealed record RopeReport(int[][][] Pairs, double[][][][]? Compensation = null, double[][]? SharedHeadEnergy = null);
    public sealed record Pair(long Original, long Mla);
    public sealed record Average(double Original, double Mla);
    /// <param name="ElementsPerToken">Over all layers.</param>
    /// <param name="ElementsPerTokenPerLayer">The mean over layers (MLA latents may differ between layers).</param>
    public sealed record KvCacheReport(Pair ElementsPerToken, Average ElementsPerTokenPerLayer, Pair BytesPerToken, string Dtype, double ReductionPercent);
    public sealed record PerplexityReport(double? Original, double? Converted, double? Finetuned);

    public static KvCacheReport KvCacheOf(ModelConfig original, MlaSettings mla, ScalarType cacheType)
    {
        var before = original.KvCacheElementsPerToken;
        var after = mla.CacheElementsPerToken(original);
        var (layers, bytes) = ((double)original.NumHiddenLayers, (long)cacheType.ElementSize());
        return new KvCacheReport(new Pair(before, after), new Average(before / layers, after / layers), new Pair(before * bytes, after * bytes),
            Mha2Mla.Storage.SafetensorsDType.Name(cacheType), 100.0 * (1 - (double)after / before));
    }

    public const string JsonName = "mha2mla_report.json";
    public const string MarkdownName = "REPORT.md";
    public const string FineTuneMetricsName = "finetune_metrics.jsonl";

    /// <summary>The files a conversion writes about itself beside the weights.</summary>
    public static readonly string[] FileNames = [JsonName, MarkdownName, FineTuneMetricsName];

    public void Write(string directory)
    {
        File.WriteAllText(Path.Combine(directory, JsonName), JsonSerializer.Serialize(this, JsonFormat.Options));
        File.WriteAllText(Path.Combine(directory, MarkdownName), Markdown());
    }

    /// <summary>The report a conversion wrote into <paramref name="directory"/>, or null where there is none.</summary>
    public static ConversionReport? Read(string directory)
    {
        var file = Path.Combine(directory, JsonName);
        return File.Exists(file) ? JsonSerializer.Deserialize<ConversionReport>(UserFiles.ReadText(file), JsonFormat.Options) : null;
    }

    private string Markdown()
    {
        var c = CultureInfo.InvariantCulture;
        string Ppl(double? p) => p is { } v ? v.ToString("F3", c) : "not measured";
        var md = new StringBuilder();
        md.AppendLine(c, $"# MHA2MLA conversion of `{Model}`");
        md.AppendLine();
        md.AppendLine(c, $"KV cache per token per layer: {KvCache.ElementsPerTokenPerLayer.Original:0.##} → {KvCache.ElementsPerTokenPerLayer.Mla:0.##} elements " +
                         $"({KvCache.BytesPerToken.Original} → {KvCache.BytesPerToken.Mla} bytes per token over all layers, {KvCache.Dtype}): " +
                         $"**−{KvCache.ReductionPercent.ToString("F2", c)} %**.");
        md.AppendLine();
        md.AppendLine("| perplexity | value |");
        md.AppendLine("|---|---|");
        md.AppendLine(c, $"| original | {Ppl(Perplexity.Original)} |");
        md.AppendLine(c, $"| converted, before fine-tune | {Ppl(Perplexity.Converted)} |");
        md.AppendLine(c, $"| after fine-tune | {Ppl(Perplexity.Finetuned)} |");
        md.AppendLine();
        var gpu = Stages.Any(s => s.PeakGpuBytes is not null);
        md.AppendLine(gpu ? "| stage | seconds | peak RSS (MiB) | peak GPU (MiB) |" : "| stage | seconds | peak RSS (MiB) |");
        md.AppendLine(gpu ? "|---|---|---|---|" : "|---|---|---|");
        foreach (var s in Stages)
            md.AppendLine(c, $"| {s.Stage} | {s.Seconds:F1} | {s.PeakRssBytes / 1048576.0:F0} |{(gpu ? $" {s.PeakGpuBytes / 1048576.0:F0} |" : "")}");
        md.AppendLine();
        md.AppendLine("Settings, the kept RoPE pairs of every layer and KV head, and these figures are in `mha2mla_report.json`.");
        return md.ToString();
    }
}
