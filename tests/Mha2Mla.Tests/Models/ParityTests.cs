using Mha2Mla.Configs;

namespace Mha2Mla.Tests.Models;

/// <summary>
/// The C# Llama's logits equal the independent plain-PyTorch reference (tests/reference) on
/// tiny random checkpoints covering each architecture feature, within 1e-4 absolute.
/// </summary>
public class ParityTests
{
    private const double Tolerance = 1e-4;

    public static TheoryData<string> Variants => [.. Cases.Keys];

    private static readonly Dictionary<string, (Dictionary<string, object?> Config, string DType, int Shards)> Cases = new()
    {
        ["mha-f32-untied"] = (TinyConfigs.Llama(4, 4), "f32", 1),
        ["gqa-bf16-tied-sharded"] = (TinyConfigs.Llama(4, 2, tied: true), "bf16", 3),
        ["mqa-f16"] = (TinyConfigs.Llama(4, 1), "f16", 1),
        ["qwen2-qkv-bias"] = (TinyConfigs.Llama(4, 2).With("model_type", "qwen2").With("use_sliding_window", false), "bf16", 2),
        ["llama-attention-bias"] = (TinyConfigs.Llama(4, 2).With("attention_bias", true), "bf16", 1),
        ["llama3-rope-scaling"] = (TinyConfigs.Llama(4, 2).With("rope_theta", 500000.0).With("rope_scaling", new Dictionary<string, object>
        {
            ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0,
            ["original_max_position_embeddings"] = 64,
        }), "bf16", 1),
        ["linear-rope-scaling"] = (TinyConfigs.Llama(4, 2).With("rope_scaling", new Dictionary<string, object> { ["type"] = "linear", ["factor"] = 2.0 }), "bf16", 1),
        ["mistral-sliding-window"] = (TinyConfigs.Llama(4, 2).With("model_type", "mistral").With("sliding_window", 5), "bf16", 1),
        ["explicit-head-dim"] = (TinyConfigs.Llama(4, 2).With("head_dim", 32), "bf16", 1),
    };

    private static readonly int[][] Ids =
    [
        [1, 5, 9, 13, 2, 96, 0, 44, 7, 7, 31, 60],
        [3, 3, 3, 4, 80, 12, 19, 55, 1, 2, 90, 11],
    ];

    [Theory]
    [MemberData(nameof(Variants))]
    public void LogitsMatchThePlainPyTorchReference(string variant)
    {
        var (config, dtype, shards) = Cases[variant];
        using var dir = new TempDir();
        var model = Reference.MakeCheckpoint(dir.Sub("model"), config, dtype, shards, seed: variant.Length);
        var expected = Reference.Logits(model, Ids, dir.Path);

        var actual = CSharpLogits(model, Ids);
        Assert.Equal(expected.Length, actual.Length);
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= Tolerance, $"{variant}: max |Δlogit| = {worst:E2} > {Tolerance:E0}");
        // Guard against two equally broken outputs: random-weight logits are far from constant.
        Assert.True(expected.Max() - expected.Min() > 0.1, "reference logits are degenerate");
    }

    [Fact]
    public void Llama3ScalingExercisesAllThreeFrequencyBands()
    {
        // With θ = 500000, d_h = 16 and 64 original positions the wavelengths straddle both cut-offs,
        // so the parity case above really tests the kept, the blended and the slowed bands.
        var config = ModelConfigReader.Read(WriteConfig(Cases["llama3-rope-scaling"].Config));
        var unscaled = config with { Rope = new RopeSettings { Theta = config.Rope.Theta } };
        var scaled = RopeFrequencies.Inverse(config);
        var plain = RopeFrequencies.Inverse(unscaled);
        var ratios = scaled.Zip(plain, (s, p) => p / s).ToArray();
        Assert.Contains(ratios, r => Math.Abs(r - 1) < 1e-6);
        Assert.Contains(ratios, r => Math.Abs(r - 8) < 1e-4);
        Assert.Contains(ratios, r => r > 1.01 && r < 7.99);
    }

    private static string WriteConfig(Dictionary<string, object?> config)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("mha2mla-config-").FullName, "config.json");
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(config));
        return path;
    }

    internal static float[] CSharpLogits(string model, int[][] ids, ScalarType dtype = ScalarType.Float32)
    {
        using var checkpoint = Checkpoint.Open(model);
        using var llama = LlamaModel.Load(checkpoint.Weights, checkpoint.Config, Device.CPU, dtype);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var flat = ids.SelectMany(s => s.Select(i => (long)i)).ToArray();
        var input = torch.tensor<long>(flat, [ids.Length, ids[0].Length]);
        return llama.Forward(input).to(ScalarType.Float32).data<float>();
    }
}
