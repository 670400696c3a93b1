namespace Mha2Mla.Tests.Configs;

/// <summary>
/// config.json as transformers 4 writes it (rope_theta + rope_scaling, torch_dtype) and as
/// transformers 5 writes it (rope_parameters, dtype, layer_types): the same weights under either
/// give identical logits, equal to the plain-PyTorch reference (which implements
/// modeling_rope_utils.py's rules itself), for every RoPE type and attention window mha2mla reads.
/// (What inspect shows of them, what convert keeps and what they refuse: EndToEnd/ConfigCommandTests.)
/// </summary>
public class ConfigGenerationTests : IDisposable
{
    private readonly TempDir dir = new();

    // 12 tokens: past max_position_embeddings = 8 for the dynamic case, past the windows of 5.
    internal static readonly int[][] Ids =
    [
        [1, 5, 9, 13, 2, 96, 0, 44, 7, 7, 31, 60],
        [3, 3, 3, 4, 80, 12, 19, 55, 1, 2, 90, 11],
    ];

    internal static Dictionary<string, object?> V4(string modelType, Dictionary<string, object?> fields)
    {
        var config = TinyConfigs.Llama(4, 2).With("model_type", modelType);
        foreach (var (k, v) in fields) config[k] = v;
        return config;
    }

    /// <summary>transformers 5's spelling: no top-level rope_theta / rope_scaling / torch_dtype.</summary>
    internal static Dictionary<string, object?> V5(string modelType, Dictionary<string, object?> rope, Dictionary<string, object?>? fields = null)
    {
        var config = TinyConfigs.Llama(4, 2).With("model_type", modelType);
        config.Remove("rope_theta");
        config.Remove("torch_dtype");
        config["dtype"] = "bfloat16";
        config["rope_parameters"] = rope;
        foreach (var (k, v) in fields ?? []) config[k] = v;
        return config;
    }

    internal static Dictionary<string, object?> D(params (string Key, object? Value)[] entries) => entries.ToDictionary(e => e.Key, e => e.Value);

    public static readonly Dictionary<string, (Dictionary<string, object?> V4, Dictionary<string, object?> V5)> Cases = new()
    {
        ["llama-theta-5e5"] = (
            V4("llama", D(("rope_theta", 500000.0))),
            V5("llama", D(("rope_type", "default"), ("rope_theta", 500000.0)))),
        ["linear"] = (
            V4("llama", D(("rope_scaling", D(("type", "linear"), ("factor", 2.0))))),
            V5("llama", D(("rope_type", "linear"), ("factor", 2.0), ("rope_theta", 10000.0)))),
        ["llama3"] = (
            V4("llama", D(("rope_theta", 500000.0), ("rope_scaling", D(("rope_type", "llama3"), ("factor", 8.0), ("low_freq_factor", 1.0),
                ("high_freq_factor", 4.0), ("original_max_position_embeddings", 64))))),
            V5("llama", D(("rope_type", "llama3"), ("rope_theta", 500000.0), ("factor", 8.0), ("low_freq_factor", 1.0),
                ("high_freq_factor", 4.0), ("original_max_position_embeddings", 64)))),
        ["dynamic-past-max-positions"] = (
            V4("llama", D(("max_position_embeddings", 8), ("rope_scaling", D(("rope_type", "dynamic"), ("factor", 2.0))))),
            V5("llama", D(("rope_type", "dynamic"), ("factor", 2.0), ("rope_theta", 10000.0)), D(("max_position_embeddings", 8)))),
        ["yarn"] = (
            V4("qwen2", D(("max_position_embeddings", 32), ("rope_scaling", D(("type", "yarn"), ("factor", 4.0), ("original_max_position_embeddings", 8))))),
            V5("qwen2", D(("rope_type", "yarn"), ("factor", 4.0), ("original_max_position_embeddings", 8), ("rope_theta", 10000.0)), D(("max_position_embeddings", 32)))),
        ["yarn-mscale-betas-untruncated"] = (
            V4("llama", D(("rope_scaling", D(("rope_type", "yarn"), ("factor", 4.0), ("original_max_position_embeddings", 64), ("mscale", 0.707),
                ("mscale_all_dim", 1.0), ("beta_fast", 8), ("beta_slow", 2), ("truncate", false))))),
            V5("llama", D(("rope_type", "yarn"), ("factor", 4.0), ("original_max_position_embeddings", 64), ("mscale", 0.707),
                ("mscale_all_dim", 1.0), ("beta_fast", 8), ("beta_slow", 2), ("truncate", false), ("rope_theta", 10000.0)))),
        ["mistral-window-5-theta-1e6"] = (
            V4("mistral", D(("rope_theta", 1000000.0), ("sliding_window", 5))),
            V5("mistral", D(("rope_type", "default"), ("rope_theta", 1000000.0)), D(("sliding_window", 5)))),
        ["qwen2-biases-theta-1e6"] = (
            V4("qwen2", D(("rope_theta", 1000000.0), ("use_sliding_window", false), ("sliding_window", null))),
            V5("qwen2", D(("rope_type", "default"), ("rope_theta", 1000000.0)), D(("use_sliding_window", false), ("sliding_window", null)))),
        ["qwen2-window-on-upper-layers"] = (
            V4("qwen2", D(("use_sliding_window", true), ("sliding_window", 5), ("max_window_layers", 1))),
            V5("qwen2", D(("rope_type", "default"), ("rope_theta", 10000.0)), D(("use_sliding_window", true), ("sliding_window", 5),
                ("max_window_layers", 1), ("layer_types", new[] { "full_attention", "sliding_attention" })))),
    };

    public static TheoryData<string> Names => [.. Cases.Keys];

    private string Make(string name, Dictionary<string, object?> config, int seed) =>
        Reference.MakeCheckpoint(dir.Sub(name), config, "f32", seed: seed);

    private static void AssertClose(float[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= tolerance, $"{what}: max |Δlogit| = {worst:E2}");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void V4AndV5ConfigsOfTheSameWeightsGiveTheReferenceLogits(string name)
    {
        var (v4, v5) = Cases[name];
        var seed = name.Length;
        var old = Make($"{name}-v4", v4, seed);
        var current = Make($"{name}-v5", v5, seed); // the same seed: the same weights
        var plain = Make($"{name}-plain", V4((string)v4["model_type"]!, []).With("use_sliding_window", false), seed);

        var ours4 = Mha2Mla.Tests.Models.ParityTests.CSharpLogits(old, Ids);
        var ours5 = Mha2Mla.Tests.Models.ParityTests.CSharpLogits(current, Ids);
        Assert.Equal(ours4, ours5);
        AssertClose(Reference.Logits(old, Ids, dir.Path), ours4, 1e-4, $"{name} (transformers 4 config)");
        AssertClose(Reference.Logits(current, Ids, dir.Path), ours5, 1e-4, $"{name} (transformers 5 config)");
        // The setting is really read: without it the logits differ.
        var worst = Mha2Mla.Tests.Models.ParityTests.CSharpLogits(plain, Ids).Zip(ours4, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst > 1e-3, $"{name}: the setting changes nothing ({worst:E2})");
    }

    public void Dispose() => dir.Dispose();
}
