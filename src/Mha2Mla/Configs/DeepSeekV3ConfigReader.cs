namespace Mha2Mla.Configs;

/// <summary>
/// A dense DeepSeek-V3 config.json (transformers' DeepseekV3Config) read as mha2mla's MLA: one
/// shared rope head of qk_rope_head_dim (its RoPE table is the model's, so head_dim here is
/// qk_rope_head_dim, as DeepseekV3Config sets it), a latent of kv_lora_rank with its norm
/// (kv_a_layernorm), a key and a value per query head (kv_b_proj), and the widths DeepSeek sets
/// freely in <see cref="MlaSettings"/> (qk_nope_head_dim, v_head_dim, q_lora_rank). The weights
/// are mapped onto mha2mla's MLA layout as they are read (<c>Models.DeepSeekV3Weights</c>).
/// What mha2mla cannot run is an error naming the field: MoE layers, attention biases.
/// </summary>
internal static class DeepSeekV3ConfigReader
{
    public const string ModelType = "deepseek_v3";

    public static ModelConfig Parse(Fields f)
    {
        var (layers, heads) = (f.PositiveInt("num_hidden_layers"), f.PositiveInt("num_attention_heads"));
        // transformers' DeepseekV3DecoderLayer: layer i is MoE from first_k_dense_replace on (default 3).
        var dense = f.NonNegativeIntOrNull("first_k_dense_replace") ?? 3;
        if (dense < layers)
            throw f.Error("first_k_dense_replace", $"is {dense}{(f.Has("first_k_dense_replace") ? "" : " (transformers' default)")} of {layers} layers: the layers from there on " +
                                                   "are mixture-of-experts, which mha2mla does not run; it reads dense DeepSeek-V3 checkpoints (first_k_dense_replace ≥ num_hidden_layers)");
        if (f.PositiveIntOrNull("num_key_value_heads") is { } kvHeads && kvHeads != heads)
            throw f.Error("num_key_value_heads", $"is {kvHeads}, not num_attention_heads ({heads}): DeepSeek-V3's kv_b_proj makes a key and a value for every query head");
        if (f.Bool("attention_bias") == true)
            throw f.Error("attention_bias", "is true; mha2mla reads DeepSeek-V3 attention without biases only");
        var ropeDim = f.PositiveInt("qk_rope_head_dim");
        if (ropeDim % 2 != 0) throw f.Error("qk_rope_head_dim", $"is {ropeDim}; RoPE needs an even width");
        var (nope, value, latent) = (f.PositiveInt("qk_nope_head_dim"), f.PositiveInt("v_head_dim"), f.PositiveInt("kv_lora_rank"));
        var queryRank = f.PositiveIntOrNull("q_lora_rank");
        var maxPositions = f.PositiveIntOrNull("max_position_embeddings") ?? 4096;
        var pairs = Enumerable.Range(0, ropeDim / 2).ToArray();

        return new ModelConfig
        {
            ModelType = ModelType,
            HiddenSize = f.PositiveInt("hidden_size"),
            IntermediateSize = f.PositiveInt("intermediate_size"),
            NumHiddenLayers = layers,
            NumAttentionHeads = heads,
            NumKeyValueHeads = heads,
            HeadDim = ropeDim,
            VocabSize = f.PositiveInt("vocab_size"),
            MaxPositionEmbeddings = maxPositions,
            Rope = RopeSettingsReader.Read(f, maxPositions, ropeDim),
            RmsNormEps = f.PositiveDouble("rms_norm_eps") ?? 1e-6,
            TieWordEmbeddings = f.Bool("tie_word_embeddings") ?? false,
            QkvBias = false,
            OutputBias = false,
            TorchDtype = f.String("dtype") ?? f.String("torch_dtype"),
            RopeInterleaved = f.Bool("rope_interleave") ?? true,
            Mla = new MlaSettings(MlaSettings.CurrentVersion, ropeDim / 2, KvRank: null, Enumerable.Repeat(latent, layers).ToArray(), RopeStrategy: ModelType,
                Svd: "none", Enumerable.Repeat(new[] { pairs }, layers).ToArray(), LatentNorm: true, RopeHeads: 1,
                NopeDim: nope, ValueDim: value, QueryLoraRank: queryRank),
        };
    }
}
