using Mha2Mla.Decoding;

namespace Mha2Mla.Tests.EndToEnd;

/// <summary>
/// Dense DeepSeek-V3 checkpoints as inputs, written by the plain-PyTorch DeepSeek-V3
/// (tests/reference/deepseek_reference.py make, not by our export), read as MLA: `eval` gives the
/// reference's perplexity, greedy decoding its tokens (absorbed, expanded and uncached), `train`
/// writes DeepSeek-V3 back (the same tensors where nothing was learned), and what mha2mla cannot
/// run is refused naming the field.
/// </summary>
public class DeepSeekV3InputTests : IDisposable
{
    private readonly TempDir dir = new();

    private static readonly int[][] Prompts = [[5, 17, 3, 60, 2], [44, 9], [88]];

    private string Make(string name, Dictionary<string, object?> config, string dtype = "f32", int shards = 1, int seed = 5)
    {
        var model = dir.Sub(name);
        Reference.RunScript("deepseek_reference.py", "make", model, "--config", JsonSerializer.Serialize(config), "--dtype", dtype, "--shards", shards.ToString(), "--seed", seed.ToString());
        return model;
    }

    private string Ids(string name, int seed)
    {
        var file = dir.File($"{name}.json");
        Reference.Run("ids", file, "--count", "3", "--length", "40", "--vocab", "97", "--seed", seed.ToString());
        return file;
    }

    private static double Relative(double a, double b) => Math.Abs(a - b) / Math.Abs(b);

    private static double Theirs(string model, string data) =>
        JsonDocument.Parse(Reference.RunScript("deepseek_reference.py", "perplexity", model, "--data", data)).RootElement.GetProperty("perplexity").GetDouble();

    private static double Ours(string model, string data)
    {
        var run = Support.Cli.Run("eval", model, "--data", data, "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        return JsonDocument.Parse(run.Stdout).RootElement.GetProperty("perplexity").GetDouble();
    }

    public static TheoryData<string, Dictionary<string, object?>, string, int> Cases => new()
    {
        // transformers 4's fields, default RoPE, a plain q_proj, f32 in one file.
        { "plain", TinyConfigs.DeepSeekV3(), "f32", 1 },
        // q-LoRA, tied, yarn whose mscale_all_dim scales the softmax (mscale = mscale_all_dim: attention factor 1), bf16 in shards.
        { "qlora-yarn", TinyConfigs.DeepSeekV3(queryLoraRank: 16, tied: true).With("rope_scaling", new Dictionary<string, object>
            { ["type"] = "yarn", ["factor"] = 4.0, ["original_max_position_embeddings"] = 64, ["beta_fast"] = 32, ["beta_slow"] = 1, ["mscale"] = 1.0, ["mscale_all_dim"] = 1.0 }), "bf16", 3 },
        // transformers 5's rope_parameters and dtype, mscale ≠ mscale_all_dim (an attention factor on cos/sin too), rope not interleaved.
        { "v5-yarn-plain-rope", TinyConfigs.DeepSeekV3(queryLoraRank: 16).With("rope_interleave", false).With("torch_dtype", null).With("dtype", "bfloat16")
            .With("rope_parameters", new Dictionary<string, object>
            { ["rope_type"] = "yarn", ["rope_theta"] = 5000.0, ["factor"] = 8.0, ["original_max_position_embeddings"] = 32, ["mscale"] = 0.707, ["mscale_all_dim"] = 1.0 }), "f32", 1 },
        // longrope (what our export writes for frequencies off a ladder), here with long factors past 32 tokens: eval's 40 use them, decoding the short ones.
        { "longrope", TinyConfigs.DeepSeekV3().With("rope_scaling", new Dictionary<string, object>
            { ["rope_type"] = "longrope", ["short_factor"] = new[] { 1.0, 3.0 }, ["long_factor"] = new[] { 2.0, 7.0 }, ["factor"] = 2.0, ["attention_factor"] = 1.1,
              ["original_max_position_embeddings"] = 32 }), "f32", 1 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EvalAndGreedyDecodingAreTheReferences(string name, Dictionary<string, object?> config, string dtype, int shards)
    {
        var model = Make(name, config, dtype, shards);
        var data = Ids($"{name}-eval", 12);
        var (ours, theirs) = (Ours(model, data), Theirs(model, data));
        Assert.True(Relative(ours, theirs) <= 1e-5, $"{name}: mha2mla eval {ours} vs the DeepSeek-V3 reference {theirs}");

        var prompts = dir.File($"{name}-prompts.json");
        File.WriteAllText(prompts, JsonSerializer.Serialize(Prompts));
        var expected = JsonDocument.Parse(Reference.RunScript("deepseek_reference.py", "generate", model, "--prompts", prompts, "--max-new-tokens", "12"))
            .RootElement.GetProperty("tokens").Deserialize<int[][]>()!;
        using var checkpoint = Checkpoint.Open(model);
        using var mla = LlamaModel.Load(checkpoint.Weights, checkpoint.Config, Device.CPU);
        foreach (var (absorb, cache) in new[] { (true, true), (false, true), (false, false) })
        {
            var tokens = Prompts.Select(p => Generator.Generate(mla, [p], new GenerationOptions { MaxNewTokens = 12, UseCache = cache, Absorb = absorb, Cache = CacheFormat.Parse("f32") })
                .Tokens.Single()).ToArray();
            Assert.True(expected.Zip(tokens).All(x => x.First.SequenceEqual(x.Second)), $"{name}, absorb {absorb}, cache {cache}: greedy tokens differ from the reference's");
        }
        // The cache is MLA's: the latent and one shared rope head, kv_lora_rank + qk_rope_head_dim per token per layer.
        var inspect = Support.Cli.Run("inspect", model, "--json");
        Assert.True(inspect.ExitCode == 0, inspect.ToString());
        Assert.Equal(12 + 4, JsonDocument.Parse(inspect.Stdout).RootElement.GetProperty("kv_cache").GetProperty("elements_per_token_per_layer").GetDouble());
    }

    [Fact]
    public void TrainWritesDeepSeekV3BackAndTheReferenceReadsIt()
    {
        var model = Make("train", TinyConfigs.DeepSeekV3(queryLoraRank: 16).With("rope_scaling", new Dictionary<string, object>
            { ["type"] = "yarn", ["factor"] = 4.0, ["original_max_position_embeddings"] = 64, ["mscale"] = 1.0, ["mscale_all_dim"] = 1.0 }));
        var data = Ids("train-data", 13);
        string Train(string name, string lr)
        {
            var output = dir.File(name);
            var run = Support.Cli.Run("train", model, "--data", data, "--seq-len", "40", "--batch", "2", "--steps", "3", "--lr", lr, "--save-dtype", "f32", "-o", output, "--json");
            Assert.True(run.ExitCode == 0, run.ToString());
            return output;
        }
        static Dictionary<string, float[]> Tensors(string path)
        {
            using var checkpoint = Checkpoint.Open(path);
            return checkpoint.Weights.Names.ToDictionary(n => n, n => { using var t = checkpoint.Weights.Read(n); return t.data<float>().ToArray(); });
        }
        // Nothing learned (lr 1e-30): the written tensors are the input's, bit for bit, under the input's names.
        var (input, unchanged) = (Tensors(model), Tensors(Train("still", "1e-30")));
        Assert.Equal(input.Keys.Order(StringComparer.Ordinal), unchanged.Keys.Order(StringComparer.Ordinal));
        Assert.All(input, kv => Assert.Equal(kv.Value, unchanged[kv.Key]));

        // Learned: still DeepSeek-V3, and the reference computes what mha2mla does with it.
        var trained = Train("trained", "1e-2");
        Assert.Equal("deepseek_v3", JsonDocument.Parse(File.ReadAllText(Path.Combine(trained, "config.json"))).RootElement.GetProperty("model_type").GetString());
        var (ours, theirs) = (Ours(trained, data), Theirs(trained, data));
        Assert.True(Relative(ours, theirs) <= 1e-5, $"trained: mha2mla eval {ours} vs the DeepSeek-V3 reference {theirs}");
        Assert.True(ours < Theirs(model, data), $"three steps at lr 1e-2 on the data itself should lower its perplexity ({Theirs(model, data)} -> {ours})");
    }

    [Fact]
    public void WhatMha2mlaCannotRunIsRefusedNamingTheField()
    {
        var data = Ids("refuse-data", 14);
        void Refused(Dictionary<string, object?> config, string fragment)
        {
            var model = dir.Sub($"refused-{Guid.NewGuid():N}");
            Directory.CreateDirectory(model);
            File.WriteAllText(Path.Combine(model, "config.json"), JsonSerializer.Serialize(config));
            Support.Cli.AssertBadInput(Support.Cli.Run("eval", model, "--data", data), fragment);
        }
        Refused(TinyConfigs.DeepSeekV3().With("first_k_dense_replace", 1), "first_k_dense_replace is 1 of 2 layers");
        Refused(TinyConfigs.DeepSeekV3().With("first_k_dense_replace", null).With("num_hidden_layers", 4), "mixture-of-experts");   // transformers' default, 3
        Refused(TinyConfigs.DeepSeekV3().With("num_key_value_heads", 2), "num_key_value_heads is 2");
        Refused(TinyConfigs.DeepSeekV3().With("attention_bias", true), "attention_bias is true");

        var model = Make("already", TinyConfigs.DeepSeekV3());
        Support.Cli.AssertBadInput(Support.Cli.Run("convert", model, "-o", dir.File("re-convert"), "--rope-strategy", "high"), "already MLA");
    }

    public static TheoryData<string, Dictionary<string, object?>, string> PaddingCases => new()
    {
        // A 32-wide rope head: default RoPE stays default, θ' = θ^(64/32) continuing the same ladder.
        { "default-ladder", TinyConfigs.DeepSeekV3().With("qk_rope_head_dim", 32).With("head_dim", 32), "default" },
        // A 4-wide one: θ^16 would overflow fp32, so the same frequencies are written as longrope factors.
        { "default-as-longrope", TinyConfigs.DeepSeekV3(), "longrope" },
        // longrope with long factors (eval's 40 tokens use them), rotate_half's order, q-LoRA: factors rescaled, pairs padded within each half.
        { "longrope-plain-qlora", TinyConfigs.DeepSeekV3(queryLoraRank: 16).With("rope_interleave", false).With("rope_scaling", new Dictionary<string, object>
            { ["rope_type"] = "longrope", ["short_factor"] = new[] { 1.0, 3.0 }, ["long_factor"] = new[] { 2.0, 7.0 }, ["factor"] = 2.0, ["attention_factor"] = 1.1,
              ["original_max_position_embeddings"] = 32 }), "longrope" },
    };

    [Theory]
    [MemberData(nameof(PaddingCases))]
    public void ADeepSeekCheckpointPaddedToTheKernelShapeComputesWhatItDid(string name, Dictionary<string, object?> config, string ropeType)
    {
        var model = Make($"pad-{name}", config);
        var data = Ids($"pad-{name}-data", 21);
        var padded = dir.File($"pad-{name}-flashmla");
        var run = Support.Cli.Run("export", model, "-o", padded, "--format", "deepseek-v3", "--shape", "flashmla", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var written = JsonDocument.Parse(File.ReadAllText(Path.Combine(padded, "config.json"))).RootElement;
        Assert.Equal((512, 64), (written.GetProperty("kv_lora_rank").GetInt32(), written.GetProperty("qk_rope_head_dim").GetInt32()));
        var report = JsonDocument.Parse(run.Stdout).RootElement;
        Assert.Equal(ropeType, report.GetProperty("rope").GetProperty("rope_type").GetString());
        var rope = (int)config["qk_rope_head_dim"]!;
        Assert.Equal(2L * 576 * 2, report.GetProperty("shape").GetProperty("cache_bytes_per_token_padded").GetInt64());
        Assert.Equal(2L * (12 + rope) * 2, report.GetProperty("shape").GetProperty("cache_bytes_per_token_unpadded").GetInt64());

        // The independent reference reads both; mha2mla reads the padded one as the model it was.
        var source = Theirs(model, data);
        Assert.True(Relative(Theirs(padded, data), source) <= 1e-5, $"reference: padded {Theirs(padded, data)} vs source {source}");
        Assert.True(Relative(Ours(padded, data), source) <= 1e-5, $"mha2mla: padded {Ours(padded, data)} vs source {source}");
    }

    [Fact]
    public void WhatCannotBePaddedIsRefusedWithTheReason()
    {
        var yarn = Make("pad-yarn", TinyConfigs.DeepSeekV3().With("rope_scaling", new Dictionary<string, object>
            { ["type"] = "yarn", ["factor"] = 4.0, ["original_max_position_embeddings"] = 64, ["beta_fast"] = 32, ["beta_slow"] = 1 }));
        Support.Cli.AssertBadInput(Support.Cli.Run("export", yarn, "-o", dir.File("pad-yarn-out"), "--format", "deepseek-v3", "--shape", "flashmla"), "depend on qk_rope_head_dim");
        var wide = Make("pad-wide", TinyConfigs.DeepSeekV3().With("kv_lora_rank", 520));
        Support.Cli.AssertBadInput(Support.Cli.Run("export", wide, "-o", dir.File("pad-wide-out"), "--format", "deepseek-v3", "--shape", "flashmla"), "kv_lora_rank is 520");
        Assert.False(Directory.Exists(dir.File("pad-wide-out")));
    }

    public void Dispose() => dir.Dispose();
}
