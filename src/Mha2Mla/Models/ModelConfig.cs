namespace Mha2Mla.Models;

/// <summary>How RoPE frequencies are rescaled for long context (config.json's rope_scaling).</summary>
public sealed record RopeScaling(
    string Type,
    double Factor,
    double LowFreqFactor = 0,
    double HighFreqFactor = 0,
    int OriginalMaxPositionEmbeddings = 0);

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
    public required double RopeTheta { get; init; }
    public RopeScaling? RopeScaling { get; init; }
    public required double RmsNormEps { get; init; }
    public required bool TieWordEmbeddings { get; init; }
    /// <summary>q_proj, k_proj and v_proj carry biases (Qwen2; Llama with attention_bias).</summary>
    public required bool QkvBias { get; init; }
    /// <summary>o_proj carries a bias (Llama with attention_bias).</summary>
    public required bool OutputBias { get; init; }
    /// <summary>Mistral's sliding attention window in tokens, or null for full causal attention.</summary>
    public int? SlidingWindow { get; init; }
    public string? TorchDtype { get; init; }
    /// <summary>Set for checkpoints converted to MLA by mha2mla.</summary>
    public MlaSettings? Mla { get; init; }

    /// <summary>Tokens per sequence when a command is not told: 2048, or max_position_embeddings if smaller.</summary>
    public int DefaultSequenceLength => Math.Min(2048, MaxPositionEmbeddings);

    /// <summary>Query heads that share one KV head.</summary>
    public int GroupSize => NumAttentionHeads / NumKeyValueHeads;
    public bool IsGroupedQuery => NumKeyValueHeads < NumAttentionHeads;

    /// <summary>KV-cache elements one token costs in one layer: a key and a value per KV head, or MLA's latent and rotated keys.</summary>
    public long KvCacheElementsPerTokenPerLayer => Mla?.CacheElementsPerTokenPerLayer(this) ?? 2L * NumKeyValueHeads * HeadDim;
}
