namespace Mha2Mla.Tests.Configs;

/// <summary>
/// config.json as transformers 4 writes it (rope_theta + rope_scaling, torch_dtype) and as
/// transformers 5 writes it (rope_parameters, dtype, layer_types): the same weights under either
/// give identical logits, equal to the plain-PyTorch reference (which implements
/// modeling_rope_utils.py's rules itself), for every RoPE type and attention window mha2mla reads.
/// </summary>
public class ConfigGenerationTests : IDisposable
{
    private readonly TempDir dir = new();

    // 12 tokens: past max_position_embeddings = 8 for the dynamic case, past the windows of 5.
    private static readonly int[][] Ids =
    [
        [1, 5, 9, 13, 2, 96, 0, 44, 7, 7, 31, 60],
        [3, 3, 3, 4, 80, 12, 19, 55, 1, 2, 90, 11],
    ];

    private static Dictionary<string, object?> V4(string modelType, Dictionary<string, object?> fields)
    {
        var config = TinyConfigs.Llama(4, 2).With("model_type", modelType);
        foreach (var (k, v) in fields) config[k] = v;
        return config;
    }

    /// <summary>transformers 5's spelling: no top-level rope_theta / rope_scaling / torch_dtype.</summary>
    private static Dictionary<string, object?> V5(string modelType, Dictionary<string, object?> rope, Dictionary<string, object?>? fields = null)
    {
        var config = TinyConfigs.Llama(4, 2).With("model_type", modelType);
        config.Remove("rope_theta");
        config.Remove("torch_dtype");
        config["dtype"] = "bfloat16";
        config["rope_parameters"] = rope;
        foreach (var (k, v) in fields ?? []) config[k] = v;
        return config;
    }

    private static Dictionary<string, object?> D(params (string Key, object? Value)[] entries) => entries.ToDictionary(e => e.Key, e => e.Value);

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

    [Fact]
    public void InspectShowsWhatWasRead()
    {
        var model = Make("inspect-yarn", Cases["yarn"].V5, 1);
        var result = Support.Cli.Run("inspect", model, "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        var rope = JsonDocument.Parse(result.Stdout).RootElement.GetProperty("rope");
        Assert.Equal("yarn", rope.GetProperty("type").GetString());
        Assert.Equal(10000.0, rope.GetProperty("theta").GetDouble());
        Assert.Equal(4.0, rope.GetProperty("factor").GetDouble());
        Assert.Equal(8, rope.GetProperty("original_max_position_embeddings").GetInt32());
        Assert.Equal(0.1 * Math.Log(4) + 1, rope.GetProperty("attention_factor").GetDouble(), 12);

        var qwen = Make("inspect-window", Cases["qwen2-window-on-upper-layers"].V5, 1);
        var layers = JsonDocument.Parse(Support.Cli.Run("inspect", qwen, "--json").Stdout).RootElement.GetProperty("layer_types");
        Assert.Equal(["full_attention", "sliding_attention"], layers.EnumerateArray().Select(e => e.GetString()));
        var text = Support.Cli.Run("inspect", qwen).Stdout;
        Assert.Contains("sliding window 5", text);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ConvertKeepsTheConfigsGenerationEveryFieldAndTheCompanionFiles(bool transformers5)
    {
        var config = transformers5 ? Cases["llama-theta-5e5"].V5 : Cases["llama-theta-5e5"].V4;
        config["some_future_field"] = new[] { 1, 2 };
        var model = Make($"keep-{transformers5}", config, 2);
        var companions = new[] { "generation_config.json", "tokenizer_config.json", "special_tokens_map.json" };
        foreach (var name in companions) File.WriteAllText(Path.Combine(model, name), $"{{\"file\": \"{name}\"}}");
        var output = dir.File($"keep-{transformers5}-mla");
        var result = Support.Cli.Run("convert", model, "-o", output, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "4", "--save-dtype", "bf16");
        Assert.True(result.ExitCode == 0, result.ToString());

        var written = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "config.json"))).RootElement;
        foreach (var field in JsonDocument.Parse(File.ReadAllText(Path.Combine(model, "config.json"))).RootElement.EnumerateObject())
            Assert.Equal(field.Value.GetRawText(), written.GetProperty(field.Name).GetRawText());
        Assert.Equal(transformers5, written.TryGetProperty("rope_parameters", out _));
        Assert.Equal(!transformers5, written.TryGetProperty("rope_theta", out _));
        Assert.True(written.TryGetProperty("mla", out _));
        foreach (var name in companions) Assert.Equal(File.ReadAllText(Path.Combine(model, name)), File.ReadAllText(Path.Combine(output, name)));
        Assert.All(CheckpointLayout.AssertValid(output, mla: true).Values, dtype => Assert.Equal("BF16", dtype)); // --save-dtype over the f32 input
        // The plain-PyTorch reader takes θ from either generation too.
        var ids = dir.File($"keep-{transformers5}-ids.json");
        File.WriteAllText(ids, JsonSerializer.Serialize(Ids));
        var python = JsonDocument.Parse(Reference.RunScript("mla_perplexity.py", output, "--data", ids)).RootElement.GetProperty("perplexity").GetDouble();
        var ours = JsonDocument.Parse(Support.Cli.Run("eval", output, "--data", ids, "--json").Stdout).RootElement.GetProperty("perplexity").GetDouble();
        Assert.True(Math.Abs(python - ours) / ours <= 1e-5, $"plain PyTorch {python} vs mha2mla {ours}");
    }

    [Fact]
    public void ConfigsMhaToMlaCannotHonourAreOneLineErrors()
    {
        void Expect(string fragment, Dictionary<string, object?> config)
        {
            var model = Reference.MakeCheckpoint(dir.Sub($"bad-{Guid.NewGuid():N}"), TinyConfigs.Llama(4, 2), "f32");
            File.WriteAllText(Path.Combine(model, "config.json"), JsonSerializer.Serialize(config));
            Support.Cli.AssertBadInput(Support.Cli.Run("inspect", model), fragment);
        }
        Expect("rope_parameters.rope_type is 'longrope'", V5("llama", D(("rope_type", "longrope"), ("rope_theta", 10000.0))));
        Expect("rope_scaling.rope_type is 'su'", V4("llama", D(("rope_scaling", D(("rope_type", "su"), ("factor", 2.0))))));
        Expect("rope_parameters.factor is missing", V5("llama", D(("rope_type", "yarn"), ("rope_theta", 10000.0))));
        Expect("layer_types has 3 entries", V5("qwen2", D(("rope_type", "default")), D(("layer_types", new[] { "full_attention", "full_attention", "full_attention" }))));
        Expect("layer_types[1] is 'linear_attention'", V5("qwen2", D(("rope_type", "default")), D(("layer_types", new[] { "full_attention", "linear_attention" }))));
    }

    public void Dispose() => dir.Dispose();
}
