namespace Mha2Mla.Configs;

/// <summary>
/// Which layers attend through a sliding window, as transformers configures each family:
/// Mistral slides every layer (sliding_window defaults to 4096; null turns it off); Qwen2 slides
/// layers from max_window_layers (default 28) on, and only with use_sliding_window (window
/// default 4096); Llama never slides. transformers 5 writes the result as layer_types, which,
/// when present, decides.
/// </summary>
internal static class AttentionWindowsReader
{
    public const string Full = "full_attention";
    public const string Sliding = "sliding_attention";

    public static (int? Window, string[] LayerTypes) Read(Fields f, string modelType, int layers)
    {
        int? WindowOrDefault() => f.Has("sliding_window") ? f.PositiveIntOrNull("sliding_window") : 4096;
        var (window, defaults) = modelType switch
        {
            "mistral" => (WindowOrDefault(), Enumerable.Repeat(Sliding, layers).ToArray()),
            "qwen2" => QwenWindows(f, layers, f.Bool("use_sliding_window") == true ? WindowOrDefault() : null),
            _ => ((int?)null, Enumerable.Repeat(Full, layers).ToArray()),
        };

        var types = f.Strings("layer_types") ?? defaults;
        if (types.Length != layers) throw f.Error("layer_types", $"has {types.Length} entries for {layers} layers (num_hidden_layers)");
        for (var i = 0; i < types.Length; i++)
        {
            if (types[i] is not (Full or Sliding))
                throw f.Error($"layer_types[{i}]", $"is '{types[i]}'; mha2mla supports {Full} and {Sliding} layers only");
            if (types[i] == Sliding && modelType == "llama")
                throw f.Error($"layer_types[{i}]", "is a sliding layer, which Llama's attention does not have");
        }
        // A layer typed sliding without a window attends to everything before it, as in transformers.
        return (window, window is null ? types.Select(_ => Full).ToArray() : types);
    }

    private static (int?, string[]) QwenWindows(Fields f, int layers, int? window)
    {
        var first = f.NonNegativeIntOrNull("max_window_layers") ?? 28;
        return (window, Enumerable.Range(0, layers).Select(i => window is not null && i >= first ? Sliding : Full).ToArray());
    }
}
