using Mha2Mla.Diagnostics;

namespace Mha2Mla.Configs;

/// <summary>
/// Reads RoPE settings exactly as transformers 5 does (RotaryEmbeddingConfigMixin): the v4
/// rope_scaling object if it is set, else the v5 rope_parameters object; rope_theta from inside
/// it, else the top-level field, else 10000; "type" is the old name of "rope_type"; llama3 and
/// yarn take original_max_position_embeddings from the top level if it is there, else from the
/// object, else max_position_embeddings. A type or parameter mha2mla cannot honour is an error
/// naming the field.
/// </summary>
internal static class RopeSettingsReader
{
    private static readonly string[] Supported = ["default", "linear", "dynamic", "llama3", "yarn", "longrope"];

    /// <param name="headDim">The rotated width: longrope's factors give one per pair of it.</param>
    public static RopeSettings Read(Fields config, int maxPositions, int headDim)
    {
        var scaling = config.Object("rope_scaling");
        var parameters = config.Object("rope_parameters");
        if (scaling is not null && parameters is not null && scaling.Root.GetRawText() != parameters.Root.GetRawText())
            Warnings.Emit($"{config.Path}: rope_scaling and rope_parameters disagree; using rope_scaling, as transformers 5 does");
        var (rope, name) = scaling is not null ? (scaling, "rope_scaling") : (parameters, "rope_parameters");

        var topTheta = config.PositiveDouble("rope_theta");
        var innerTheta = rope?.PositiveDouble("rope_theta");
        if (topTheta is { } t && innerTheta is { } i && t != i)
            Warnings.Emit($"{config.Path}: rope_theta {t:G} and {name}.rope_theta {i:G} disagree; using {i:G}, as transformers 5 does");
        var theta = innerTheta ?? topTheta ?? 10000.0;
        if (rope is null) return new RopeSettings { Theta = theta };

        var type = rope.String("rope_type") ?? rope.String("type") ?? "default";
        if (!Supported.Contains(type))
            throw rope.Error("rope_type", $"is '{type}', which mha2mla does not implement (supported: {string.Join(", ", Supported)})");
        if (rope.Has("partial_rotary_factor") && rope.PositiveDouble("partial_rotary_factor") != 1.0)
            throw rope.Error("partial_rotary_factor", "is not 1; mha2mla rotates whole heads only");

        double Required(string field) => rope.PositiveDouble(field) ?? throw rope.Error(field, $"is missing; rope_type '{type}' needs it");
        int Original() => config.PositiveIntOrNull("original_max_position_embeddings")
                          ?? rope.PositiveIntOrNull("original_max_position_embeddings") ?? maxPositions;
        var settings = new RopeSettings { Type = type, Theta = theta };
        return type switch
        {
            "default" => settings,
            "linear" or "dynamic" => settings with { Factor = Required("factor") },
            "llama3" => settings with
            {
                Factor = Required("factor"), LowFreqFactor = Required("low_freq_factor"), HighFreqFactor = Required("high_freq_factor"),
                OriginalMaxPositionEmbeddings = Original(),
            },
            "longrope" => Longrope(config, rope, settings with { OriginalMaxPositionEmbeddings = Original() }, maxPositions, headDim),
            _ => Yarn(rope, settings with { Factor = Required("factor"), OriginalMaxPositionEmbeddings = Original() }),
        };
    }

    // longrope (transformers' _compute_longrope_parameters): a divisor per pair, short up to the original context and long past
    // it; the attention factor given, or √(1 + ln s / ln original) with s = max_position_embeddings / original_max_position_embeddings
    // where the config has the latter at the top level (Phi-3), else the object's factor.
    private static RopeSettings Longrope(Fields config, Fields rope, RopeSettings settings, int maxPositions, int headDim)
    {
        double[] Factors(string field)
        {
            var factors = rope.Numbers(field) ?? throw rope.Error(field, "is missing; rope_type 'longrope' needs it");
            if (factors.Length != headDim / 2 || factors.Any(f => f <= 0))
                throw rope.Error(field, $"has {factors.Length} entries; longrope needs a positive factor for each of the {headDim / 2} frequency pairs");
            return factors;
        }
        var original = settings.OriginalMaxPositionEmbeddings!.Value;
        var scale = config.PositiveIntOrNull("original_max_position_embeddings") is { } top ? (double)maxPositions / top : rope.PositiveDouble("factor") ?? 1.0;
        var attention = rope.PositiveDouble("attention_factor") ?? (scale <= 1 ? 1.0 : Math.Sqrt(1 + Math.Log(scale) / Math.Log(original)));
        return settings with { ShortFactor = Factors("short_factor"), LongFactor = Factors("long_factor"), AttentionFactor = attention, Factor = scale };
    }

    // yarn's attention factor: given, or 0.1·m·ln(factor) + 1 (as a ratio when mscale and mscale_all_dim are both set).
    private static RopeSettings Yarn(Fields rope, RopeSettings settings)
    {
        var factor = settings.Factor!.Value;
        static double Mscale(double scale, double m = 1) => scale <= 1 ? 1.0 : 0.1 * m * Math.Log(scale) + 1.0;
        var (mscale, mscaleAllDim) = (rope.Number("mscale"), rope.Number("mscale_all_dim"));
        var attention = rope.PositiveDouble("attention_factor")
                        ?? (mscale is { } m && m != 0 && mscaleAllDim is { } a && a != 0 ? Mscale(factor, m) / Mscale(factor, a) : Mscale(factor));
        return settings with
        {
            AttentionFactor = attention,
            MscaleAllDim = mscaleAllDim,
            BetaFast = rope.Number("beta_fast") is { } fast && fast != 0 ? fast : 32,
            BetaSlow = rope.Number("beta_slow") is { } slow && slow != 0 ? slow : 1,
            Truncate = rope.Bool("truncate") ?? true,
        };
    }
}
