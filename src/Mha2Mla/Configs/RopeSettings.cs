namespace Mha2Mla.Configs;

/// <summary>
/// How a model's rotary frequencies are computed, as transformers 5 standardizes config.json's
/// RoPE fields (rope_parameters, or transformers 4's rope_theta + rope_scaling). Type is one of
/// default, linear, dynamic, llama3, yarn; the other fields are those types' parameters, already
/// resolved (defaults filled in, yarn's and longrope's attention factors computed).
/// </summary>
public sealed record RopeSettings
{
    public string Type { get; init; } = "default";
    public double Theta { get; init; } = 10000.0;
    /// <summary>linear, dynamic, llama3, yarn: how much the context was stretched.</summary>
    public double? Factor { get; init; }
    /// <summary>llama3.</summary>
    public double? LowFreqFactor { get; init; }
    /// <summary>llama3.</summary>
    public double? HighFreqFactor { get; init; }
    /// <summary>llama3, yarn: the context length the model was pre-trained with.</summary>
    public int? OriginalMaxPositionEmbeddings { get; init; }
    /// <summary>yarn: cos and sin are multiplied by this (1 otherwise).</summary>
    public double AttentionFactor { get; init; } = 1.0;
    /// <summary>yarn: the ramp between kept and interpolated frequencies.</summary>
    public double? BetaFast { get; init; }
    public double? BetaSlow { get; init; }
    /// <summary>longrope: each pair's divisor of its frequency up to original_max_position_embeddings (short) and past it (long).</summary>
    public double[]? ShortFactor { get; init; }
    public double[]? LongFactor { get; init; }
    /// <summary>yarn (DeepSeek): the mscale_all_dim DeepSeek-V3 squares into its softmax scale; null where not given.</summary>
    public double? MscaleAllDim { get; init; }
    public bool? Truncate { get; init; }

    /// <summary>Whether the frequencies depend on the sequence length (dynamic NTK past max_position_embeddings).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool DependsOnLength => Type == "dynamic" || (Type == "longrope" && !ShortFactor!.SequenceEqual(LongFactor!));

    public override string ToString() => Type switch
    {
        "default" => $"default, theta {Theta:G}",
        "linear" or "dynamic" => $"{Type} x{Factor:G}, theta {Theta:G}",
        "llama3" => $"llama3 x{Factor:G} (low {LowFreqFactor:G}, high {HighFreqFactor:G}, original {OriginalMaxPositionEmbeddings}), theta {Theta:G}",
        "longrope" => $"longrope (original {OriginalMaxPositionEmbeddings}, attention factor {AttentionFactor:G}{(DependsOnLength ? ", long factors past it" : "")}), theta {Theta:G}",
        _ => $"yarn x{Factor:G} (original {OriginalMaxPositionEmbeddings}, attention factor {AttentionFactor:G}, beta {BetaFast:G}/{BetaSlow:G}" +
             $"{(Truncate == false ? ", untruncated" : "")}), theta {Theta:G}",
    };
}
