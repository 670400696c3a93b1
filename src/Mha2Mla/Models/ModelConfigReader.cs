using System.Text.Json;

namespace Mha2Mla.Models;

/// <summary>
/// Reads config.json into a <see cref="ModelConfig"/>. Defaults are exactly those of Hugging Face's
/// config classes; a setting mha2mla cannot honour is an error naming the field and its value.
/// </summary>
public static class ModelConfigReader
{
    private static readonly string[] SupportedTypes = ["llama", "mistral", "qwen2"];

    private static readonly Dictionary<string, string> KnownUnsupported = new()
    {
        ["qwen3"] = "its attention normalizes q and k (QK-norm)",
        ["gemma"] = "it differs from Llama in normalization and embedding scale",
        ["gemma2"] = "it uses soft-capping and alternating sliding windows",
        ["phi3"] = "its attention projections are fused",
        ["deepseek_v2"] = "it already uses MLA",
        ["deepseek_v3"] = "it already uses MLA",
    };

    public static ModelConfig Read(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: no such file; a Hugging Face checkpoint directory holds config.json beside its weights");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{path}: not valid JSON ({e.Message.Split('\n')[0]})");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidInputException($"{path}: not a JSON object");
            return Parse(new Fields(path, document.RootElement));
        }
    }

    private static ModelConfig Parse(Fields f)
    {
        var modelType = f.String("model_type") ?? throw f.Error("model_type", "is missing; mha2mla needs it to know the architecture");
        if (!SupportedTypes.Contains(modelType))
        {
            var why = KnownUnsupported.TryGetValue(modelType, out var reason) ? $" ({reason})" : "";
            throw f.Error("model_type", $"is '{modelType}', which mha2mla cannot convert{why}; supported: {string.Join(", ", SupportedTypes)}");
        }

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

        var activation = f.String("hidden_act") ?? "silu";
        if (activation != "silu") throw f.Error("hidden_act", $"is '{activation}'; mha2mla implements the SwiGLU MLP with silu only");
        if (f.Bool("mlp_bias") == true) throw f.Error("mlp_bias", "is true; mha2mla supports MLPs without biases only");

        var attentionBias = f.Bool("attention_bias") ?? false;
        var slidingWindow = SlidingWindow(f, modelType);

        return new ModelConfig
        {
            ModelType = modelType,
            HiddenSize = hidden,
            IntermediateSize = f.PositiveInt("intermediate_size"),
            NumHiddenLayers = f.PositiveInt("num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim.Value,
            VocabSize = f.PositiveInt("vocab_size"),
            MaxPositionEmbeddings = f.PositiveIntOrNull("max_position_embeddings") ?? 2048,
            RopeTheta = f.PositiveDouble("rope_theta") ?? 10000.0,
            RopeScaling = RopeScalingOf(f),
            RmsNormEps = f.PositiveDouble("rms_norm_eps") ?? 1e-6,
            TieWordEmbeddings = f.Bool("tie_word_embeddings") ?? false,
            QkvBias = modelType == "qwen2" || attentionBias,
            OutputBias = modelType == "llama" && attentionBias,
            SlidingWindow = slidingWindow,
            TorchDtype = f.String("torch_dtype") ?? f.String("dtype"),
            Mla = MlaOf(f, headDim.Value, kvHeads, f.PositiveInt("num_hidden_layers")),
        };
    }

    private static MlaSettings? MlaOf(Fields f, int headDim, int kvHeads, int layers)
    {
        if (!f.Root.TryGetProperty("mla", out var section) || section.ValueKind == JsonValueKind.Null) return null;
        MlaSettings? mla;
        try
        {
            mla = section.Deserialize<MlaSettings>(new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
        }
        catch (JsonException e)
        {
            throw f.Error("mla", $"is malformed ({e.Message.Split('\n')[0]})");
        }
        if (mla is null || mla.Version != MlaSettings.CurrentVersion)
            throw f.Error("mla", $"has version {mla?.Version}; this mha2mla reads version {MlaSettings.CurrentVersion}");
        var r = mla.RopePairs;
        if (r < 1 || r > headDim / 2) throw f.Error("mla.rope_pairs", $"is {r}; it must be 1..{headDim / 2}");
        if (mla.Pairs is null || mla.Pairs.Length != layers || mla.Pairs.Any(l => l.Length != kvHeads || l.Any(h => h.Length != r || h.Any(k => k < 0 || k >= headDim / 2))))
            throw f.Error("mla.pairs", $"must list {r} pairs in 0..{headDim / 2 - 1} for each of {kvHeads} KV heads in each of {layers} layers");
        return mla;
    }

    private static int? SlidingWindow(Fields f, string modelType)
    {
        if (modelType == "qwen2")
        {
            if (f.Bool("use_sliding_window") == true)
                throw f.Error("use_sliding_window", "is true; mha2mla supports Qwen2 with full attention only");
            return null;
        }
        if (modelType == "mistral") return f.PositiveIntOrNull("sliding_window");
        return null;
    }

    private static RopeScaling? RopeScalingOf(Fields f)
    {
        if (!f.Root.TryGetProperty("rope_scaling", out var scaling) || scaling.ValueKind == JsonValueKind.Null) return null;
        if (scaling.ValueKind != JsonValueKind.Object) throw f.Error("rope_scaling", "must be an object or null");
        var inner = new Fields(f.Path, scaling, "rope_scaling.");
        var type = inner.String("rope_type") ?? inner.String("type") ?? throw f.Error("rope_scaling", "has neither rope_type nor type");
        switch (type)
        {
            case "default":
                return null;
            case "linear":
                return new RopeScaling("linear", inner.PositiveDouble("factor") ?? throw inner.Error("factor", "is missing"));
            case "llama3":
                return new RopeScaling("llama3",
                    inner.PositiveDouble("factor") ?? throw inner.Error("factor", "is missing"),
                    inner.PositiveDouble("low_freq_factor") ?? throw inner.Error("low_freq_factor", "is missing"),
                    inner.PositiveDouble("high_freq_factor") ?? throw inner.Error("high_freq_factor", "is missing"),
                    inner.PositiveInt("original_max_position_embeddings"));
            default:
                throw f.Error("rope_scaling", $"has type '{type}', which mha2mla does not implement (supported: linear, llama3)");
        }
    }

    /// <summary>Typed access to one JSON object, with errors that name the file and field.</summary>
    private sealed class Fields(string path, JsonElement root, string prefix = "")
    {
        public string Path => path;
        public JsonElement Root => root;

        public InvalidInputException Error(string field, string what) => new($"{path}: {prefix}{field} {what}");

        private JsonElement? Get(string name) =>
            root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

        public string? String(string name) => Get(name) switch
        {
            null => null,
            { ValueKind: JsonValueKind.String } v => v.GetString(),
            var v => throw Error(name, $"must be a string, not {v.Value.GetRawText()}"),
        };

        public bool? Bool(string name) => Get(name) switch
        {
            null => null,
            { ValueKind: JsonValueKind.True } => true,
            { ValueKind: JsonValueKind.False } => false,
            var v => throw Error(name, $"must be true or false, not {v.Value.GetRawText()}"),
        };

        public int? PositiveIntOrNull(string name)
        {
            if (Get(name) is not { } v) return null;
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out var n) || n <= 0)
                throw Error(name, $"must be a positive integer, not {v.GetRawText()}");
            return n;
        }

        public int PositiveInt(string name) => PositiveIntOrNull(name) ?? throw Error(name, "is missing");

        public double? PositiveDouble(string name)
        {
            if (Get(name) is not { } v) return null;
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out var x) || !(x > 0) || double.IsInfinity(x))
                throw Error(name, $"must be a positive number, not {v.GetRawText()}");
            return x;
        }
    }
}
