using static Mha2Mla.Tests.Configs.ConfigGenerationTests;

namespace Mha2Mla.Tests.EndToEnd;

/// <summary>
/// The configs of Configs/ConfigGenerationTests through the commands: what `inspect` shows it
/// read, what `convert` keeps of either transformers generation (every field, the companion
/// files), and a one-line refusal of each config MHA2MLA cannot honour.
/// </summary>
public class ConfigCommandTests : IDisposable
{
    private readonly TempDir dir = new();

    private string Make(string name, Dictionary<string, object?> config, int seed) =>
        Reference.MakeCheckpoint(dir.Sub(name), config, "f32", seed: seed);

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
        Expect("rope_parameters.short_factor is missing", V5("llama", D(("rope_type", "longrope"), ("rope_theta", 10000.0))));
        Expect("rope_parameters.long_factor has 2 entries", V5("llama", D(("rope_type", "longrope"), ("rope_theta", 10000.0),
            ("short_factor", Enumerable.Repeat(1.0, 8).ToArray()), ("long_factor", new[] { 1.0, 2.0 }))));
        Expect("rope_scaling.rope_type is 'su'", V4("llama", D(("rope_scaling", D(("rope_type", "su"), ("factor", 2.0))))));
        Expect("rope_parameters.factor is missing", V5("llama", D(("rope_type", "yarn"), ("rope_theta", 10000.0))));
        Expect("layer_types has 3 entries", V5("qwen2", D(("rope_type", "default")), D(("layer_types", new[] { "full_attention", "full_attention", "full_attention" }))));
        Expect("layer_types[1] is 'linear_attention'", V5("qwen2", D(("rope_type", "default")), D(("layer_types", new[] { "full_attention", "linear_attention" }))));
    }

    public void Dispose() => dir.Dispose();
}
