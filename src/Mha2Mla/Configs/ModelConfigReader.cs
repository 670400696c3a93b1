using System.Text.Json;

namespace Mha2Mla.Configs;

/// <summary>
/// Reads config.json into a <see cref="ModelConfig"/>. Defaults are exactly those of Hugging Face's
/// config classes; a setting mha2mla cannot honour is an error naming the field and its value.
/// </summary>
public static class ModelConfigReader
{
    private static readonly string[] SupportedTypes = ["llama", "mistral", "qwen2", DeepSeekV3ConfigReader.ModelType];

    private static readonly Dictionary<string, string> KnownUnsupported = new()
    {
        ["qwen3"] = "its attention normalizes q and k (QK-norm)",
        ["gemma"] = "it differs from Llama in normalization and embedding scale",
        ["gemma2"] = "it uses soft-capping and alternating sliding windows",
        ["phi3"] = "its attention projections are fused",
        ["deepseek_v2"] = "it already uses MLA; DeepSeek-V3's dense layout is read",
    };

    public static ModelConfig Read(string path)
    {
        if (!File.Exists(path) && !Directory.Exists(path) && new FileInfo(path).LinkTarget is null)
            throw new InvalidInputException($"{path}: no such file; a Hugging Face checkpoint directory holds config.json beside its weights");
        // Strict, as Python's json (and so transformers) reads it, and the same for every command.
        using var document = UserFiles.ReadJson(path);
        if (document.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidInputException($"{path}: not a JSON object");
        return Parse(new Fields(path, document.RootElement));
    }

    private static ModelConfig Parse(Fields f)
    {
        var modelType = f.String("model_type") ?? throw f.Error("model_type", "is missing; mha2mla needs it to know the architecture");
        if (!SupportedTypes.Contains(modelType))
        {
            var why = KnownUnsupported.TryGetValue(modelType, out var reason) ? $" ({reason})" : "";
            throw f.Error("model_type", $"is '{modelType}', which mha2mla cannot convert{why}; supported: {string.Join(", ", SupportedTypes)}");
        }
        // Both architectures' MLP is SwiGLU without biases (LlamaMLP, DeepseekV3MLP).
        var activation = f.String("hidden_act") ?? "silu";
        if (activation != "silu") throw f.Error("hidden_act", $"is '{activation}'; mha2mla implements the SwiGLU MLP with silu only");
        if (f.Bool("mlp_bias") == true) throw f.Error("mlp_bias", "is true; mha2mla supports MLPs without biases only");
        if (modelType == DeepSeekV3ConfigReader.ModelType) return DeepSeekV3ConfigReader.Parse(f);

        var hidden = f.PositiveInt("hidden_size");
        var heads = f.PositiveInt("num_attention_heads");
        var kvHeads = modelType == "llama"
            ? f.PositiveIntOrNull("num_key_value_heads") ?? heads
            : f.PositiveInt("num_key_value_heads");
        if (heads % kvHeads != 0)
            throw f.Error("num_key_value_heads", $"is {kvHeads}, which does not divide num_attention_heads ({heads})");

        var headDim = f.PositiveIntOrNull("head_dim");
        if (headDim is null)
        {
            if (hidden % heads != 0) throw f.Error("head_dim", $"is missing and hidden_size {hidden} is not a multiple of num_attention_heads {heads}");
            headDim = hidden / heads;
        }
        if (headDim % 2 != 0) throw f.Error("head_dim", $"is {headDim}; RoPE needs an even head dimension");

        var attentionBias = f.Bool("attention_bias") ?? false;
        var layers = f.PositiveInt("num_hidden_layers");
        var maxPositions = f.PositiveIntOrNull("max_position_embeddings") ?? 2048;
        var (slidingWindow, layerTypes) = AttentionWindowsReader.Read(f, modelType, layers);

        return new ModelConfig
        {
            ModelType = modelType,
            HiddenSize = hidden,
            IntermediateSize = f.PositiveInt("intermediate_size"),
            NumHiddenLayers = layers,
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim.Value,
            VocabSize = f.PositiveInt("vocab_size"),
            MaxPositionEmbeddings = maxPositions,
            Rope = RopeSettingsReader.Read(f, maxPositions, headDim.Value),
            RmsNormEps = f.PositiveDouble("rms_norm_eps") ?? 1e-6,
            TieWordEmbeddings = f.Bool("tie_word_embeddings") ?? false,
            QkvBias = modelType == "qwen2" || attentionBias,
            OutputBias = modelType == "llama" && attentionBias,
            SlidingWindow = slidingWindow,
            LayerTypes = layerTypes,
            TorchDtype = f.String("dtype") ?? f.String("torch_dtype"), // transformers 5 writes dtype, 4 torch_dtype
            Mla = MlaOf(f, headDim.Value, kvHeads, layers),
        };
    }

    // config.json's "mla" as each version writes it: 1 has one latent_dim, 2 one per layer, 3 may have one shared rope head.
    private sealed record MlaSection(int Version, int RopePairs, int? KvRank, int? LatentDim, int[]? LatentDims, string? KvBudget,
        string RopeStrategy, string Svd, int[][][]? Pairs, bool LatentNorm = false, bool RopeShared = false, int? RopeHeads = null, int? FreqFold = null);

    private static MlaSettings? MlaOf(Fields f, int headDim, int kvHeads, int layers)
    {
        if (!f.Root.TryGetProperty("mla", out var json) || json.ValueKind == JsonValueKind.Null) return null;
        MlaSection? section;
        try
        {
            section = json.Deserialize<MlaSection>(new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
        }
        catch (JsonException e)
        {
            throw f.Error("mla", $"is malformed ({e.Message.Split('\n')[0]})");
        }
        if (section is null || section.Version is < 1 or > MlaSettings.CurrentVersion)
            throw f.Error("mla", $"has version {section?.Version}; this mha2mla reads versions 1 to {MlaSettings.CurrentVersion} (a newer mha2mla wrote it: update mha2mla)");
        var r = section.RopePairs;
        if (r < 1 || r > headDim / 2) throw f.Error("mla.rope_pairs", $"is {r}; it must be 1..{headDim / 2}");
        if (section.RopeHeads is { } ropeHeads && (ropeHeads != 1 || section.Version < 3))
            throw f.Error("mla.rope_heads", $"is {ropeHeads}; version 3 allows 1 (one rope head shared by every query head) or no entry (one per KV head)");
        var heads = section.RopeHeads ?? kvHeads;
        var what = heads == 1 && section.RopeHeads is not null ? "the shared rope head" : $"each of {kvHeads} KV heads";
        if (section.Pairs is null || section.Pairs.Length != layers || section.Pairs.Any(l => l.Length != heads || l.Any(h => h.Length != r || h.Any(k => k < 0 || k >= headDim / 2))))
            throw f.Error("mla.pairs", $"must list {r} pairs in 0..{headDim / 2 - 1} for {what} in each of {layers} layers");
        // A pair kept twice would be rotated twice and another never: the file was edited by hand.
        for (var layer = 0; layer < layers; layer++)
            for (var head = 0; head < heads; head++)
                if (section.Pairs[layer][head].Distinct().Count() != r)
                    throw f.Error("mla.pairs", $"lists a pair twice for layer {layer}, rope head {head} ({string.Join(", ", section.Pairs[layer][head])}); each kept pair appears once");
        var widths = section.Version == 1
            ? section.LatentDim is { } latent ? Enumerable.Repeat(latent, layers).ToArray() : throw f.Error("mla.latent_dim", "is missing")
            : section.LatentDims ?? throw f.Error("mla.latent_dims", "is missing");
        if (widths.Length != layers || widths.Any(w => w < 1))
            throw f.Error(section.Version == 1 ? "mla.latent_dim" : "mla.latent_dims", $"must give a positive latent width for each of {layers} layers");
        return new MlaSettings(section.Version, r, section.KvRank, widths, section.RopeStrategy, section.Svd, section.Pairs, section.KvBudget,
            section.LatentNorm, section.RopeShared, RopeHeads: section.RopeHeads, FreqFold: section.FreqFold);
    }
}
