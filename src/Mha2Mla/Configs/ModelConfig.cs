namespace Mha2Mla.Configs;

/// <summary>
/// The architecture of a Llama-family model, read from config.json by <see cref="ModelConfigReader"/>.
/// Names follow Hugging Face's config fields.
/// </summary>
public sealed record ModelConfig
{
    public required string ModelType { get; init; }
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int NumHiddenLayers { get; init; }
    public required int NumAttentionHeads { get; init; }
    public required int NumKeyValueHeads { get; init; }
    public required int HeadDim { get; init; }
    public required int VocabSize { get; init; }
    public required int MaxPositionEmbeddings { get; init; }
    public RopeSettings Rope { get; init; } = new();
    public required double RmsNormEps { get; init; }
    public required bool TieWordEmbeddings { get; init; }
    /// <summary>q_proj, k_proj and v_proj carry biases (Qwen2; Llama with attention_bias).</summary>
    public required bool QkvBias { get; init; }
    /// <summary>o_proj carries a bias (Llama with attention_bias).</summary>
    public required bool OutputBias { get; init; }
    /// <summary>The sliding attention window in tokens of the layers typed "sliding_attention" (Mistral, Qwen2), or null.</summary>
    public int? SlidingWindow { get; init; }
    /// <summary>Each layer's attention: "full_attention" or "sliding_attention" (transformers 5's layer_types).</summary>
    public string[] LayerTypes { get; init; } = [];
    public string? TorchDtype { get; init; }
    /// <summary>Set for checkpoints converted to MLA by mha2mla, and for DeepSeek-V3 checkpoints (read as MLA).</summary>
    public MlaSettings? Mla { get; init; }
    /// <summary>DeepSeek-V3 (rope_interleave, its default): the checkpoint stores each rope head's pairs interleaved, (x₀, y₀, x₁, y₁, …).</summary>
    public bool RopeInterleaved { get; init; }
    /// <summary>A DeepSeek-V3 checkpoint: its weights are under DeepSeek's names and mapped onto the MLA layout when read.</summary>
    public bool IsDeepSeekV3 => ModelType == DeepSeekV3ConfigReader.ModelType;

    /// <summary>Tokens per sequence when a command is not told: 2048, or max_position_embeddings if smaller.</summary>
    public int DefaultSequenceLength => Math.Min(2048, MaxPositionEmbeddings);


    /// <summary>Layer <paramref name="layer"/>'s attention window, or null where it sees every earlier token.</summary>
    public int? WindowOf(int layer) => layer < LayerTypes.Length && LayerTypes[layer] == "sliding_attention" ? SlidingWindow : null;

    /// <summary>Query heads that share one KV head.</summary>
    public int GroupSize => NumAttentionHeads / NumKeyValueHeads;
    public bool IsGroupedQuery => NumKeyValueHeads < NumAttentionHeads;

    /// <summary>KV-cache elements one token costs over all layers: a key and a value per KV head, or MLA's latent and rotated keys.</summary>
    public long KvCacheElementsPerToken => Mla?.CacheElementsPerToken(this) ?? 2L * NumKeyValueHeads * HeadDim * NumHiddenLayers;

    /// <summary>The same per layer, on average (MLA latents may differ between layers).</summary>
    public double KvCacheElementsPerTokenPerLayer => (double)KvCacheElementsPerToken / NumHiddenLayers;
}
