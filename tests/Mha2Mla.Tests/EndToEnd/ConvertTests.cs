namespace Mha2Mla.Tests.EndToEnd;

/// <summary>
/// `mha2mla convert` against docs/design.md: the sanity law, an independent plain-PyTorch
/// implementation (tests/reference/mla_reference.py) for every strategy and SVD mode, the
/// plain-PyTorch reader of the output format, and the KV-cache formula.
/// </summary>
public class ConvertTests : IDisposable
{
    private readonly TempDir dir = new();

    private (string Model, string Calib, string Eval) Setup(Dictionary<string, object?> config, string name) => Reference.ConversionCase(dir, config, name);

    private JsonElement Convert(string model, params string[] options)
    {
        var output = dir.File($"out-{Guid.NewGuid():N}");
        var result = Support.Cli.Run(["convert", model, "-o", output, "--seq-len", "32", .. options]);
        Assert.True(result.ExitCode == 0, result.ToString());
        var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "mha2mla_report.json"))).RootElement.Clone();
        Assert.Equal(output, report.GetProperty("output").GetString());
        return report;
    }

    private static double Relative(double a, double b) => Math.Abs(a - b) / Math.Abs(b);

    [Theory]
    [InlineData("mistral")]
    [InlineData("qwen2")]
    public void ThePlainPyTorchReaderFollowsSlidingWindows(string family)
    {
        // Windows of 5 over 20-token sequences: every layer (Mistral), only the upper one (Qwen2).
        var config = family == "mistral"
            ? TinyConfigs.Llama(4, 2).With("model_type", "mistral").With("sliding_window", 5)
            : TinyConfigs.Llama(4, 2).With("model_type", "qwen2").With("use_sliding_window", true).With("sliding_window", 5).With("max_window_layers", 1);
        var (model, _, eval) = Setup(config, $"window-{family}");
        var report = Convert(model, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "4", "--save-dtype", "f32", "--eval-data", eval);
        var output = report.GetProperty("output").GetString()!;
        var ours = report.GetProperty("perplexity").GetProperty("converted").GetDouble();
        var python = JsonDocument.Parse(Reference.RunScript("mla_perplexity.py", output, "--data", eval)).RootElement.GetProperty("perplexity").GetDouble();
        Assert.True(Relative(python, ours) <= 1e-5, $"{family}: plain PyTorch {python} vs mha2mla {ours}");
    }

    [Fact]
    public void ARoRopeCheckpointReadsBackEverywhere()
    {
        // One shared rope head (mla version 3): our eval, the cache, plain PyTorch, inspect and a fine-tune step all read it alike.
        var (model, calib, eval) = Setup(TinyConfigs.Llama(4, 2).With("model_type", "qwen2"), "rorope-readback");
        var report = Convert(model, "--rope-strategy", "rorope", "--freq-fold", "2", "--rope-pairs", "2", "--kv-rank", "4", "--calib-data", calib,
            "--calib-seq-len", "24", "--eval-data", eval, "--save-dtype", "f32");
        var output = report.GetProperty("output").GetString()!;
        var converted = report.GetProperty("perplexity").GetProperty("converted").GetDouble();
        // The same cache as 2-norm at r = 2: 2 KV heads · 2·2 rotated dims = one head of 2·4, plus the latent.
        Assert.Equal(2 * (8 + 8), report.GetProperty("kv_cache").GetProperty("elements_per_token").GetProperty("mla").GetInt64());
        var python = JsonDocument.Parse(Reference.RunScript("mla_perplexity.py", output, "--data", eval)).RootElement.GetProperty("perplexity").GetDouble();
        Assert.True(Relative(python, converted) <= 1e-5, $"plain PyTorch {python} vs mha2mla {converted}");
        var cached = JsonDocument.Parse(Support.Cli.Run("eval", output, "--data", eval, "--kv-cache-dtype", "f32", "--json").Stdout).RootElement.GetProperty("perplexity").GetDouble();
        Assert.True(Relative(cached, converted) <= 1e-5, $"through the cache {cached} vs {converted}");
        Assert.Contains("RoPE on 4 pairs in one head every query head reads (rorope)", Support.Cli.Run("inspect", output).Stdout);
        Assert.Contains("model.layers.0.self_attn.k_rope_proj.weight", CheckpointLayout.AssertValid(output, mla: true).Keys);
        var train = Support.Cli.Run("train", output, "--data", eval, "-o", dir.File("rorope-tuned"), "--steps", "1", "--batch", "2");
        Assert.True(train.ExitCode == 0, train.ToString());
    }

    [Fact]
    public void RoRopeRefusesWhatItCannotDoNamingTheFlag()
    {
        var (mqa, calib, _) = Setup(TinyConfigs.Llama(4, 1), "rorope-mqa");
        var (gqa, _, _) = Setup(TinyConfigs.Llama(4, 2), "rorope-gqa");
        void Refused(string model, string message, params string[] options)
        {
            var result = Support.Cli.Run(["convert", model, "-o", dir.File($"refused-{Guid.NewGuid():N}"), "--calib-data", calib, "--calib-seq-len", "24", .. options]);
            Support.Cli.AssertBadInput(result, message);
        }
        Refused(mqa, "one KV head (MQA)", "--rope-strategy", "rorope");
        Refused(gqa, "--freq-fold 3 must divide d_h/2 = 8", "--rope-strategy", "rorope", "--freq-fold", "3");
        Refused(gqa, "--freq-fold 4 leaves 2 groups", "--rope-strategy", "rorope", "--freq-fold", "4", "--rope-pairs", "2");
        Refused(gqa, "--freq-fold groups frequencies for --rope-strategy rorope", "--freq-fold", "2");
    }

    [Theory]
    [InlineData(4, 4)]
    [InlineData(4, 2)]
    public void KeepingEveryPairAtFullRankReproducesTheOriginal(int heads, int kvHeads)
    {
        var (model, _, eval) = Setup(TinyConfigs.Llama(heads, kvHeads), $"law-{heads}-{kvHeads}");
        var report = Convert(model, "--rope-strategy", "high", "--rope-pairs", "8", "--kv-rank", "16", "--eval-data", eval);
        var ppl = report.GetProperty("perplexity");
        var (original, converted) = (ppl.GetProperty("original").GetDouble(), ppl.GetProperty("converted").GetDouble());
        Assert.True(Relative(converted, original) <= 1e-4, $"converted {converted} vs original {original}");
        Assert.Equal(0, report.GetProperty("kv_cache").GetProperty("reduction_percent").GetDouble(), 9);
    }

    public static TheoryData<string, string, string> Cases => new()
    {
        { "llama-gqa", "high", "joint" },
        { "llama-gqa", "low", "joint" },
        { "llama-gqa", "uniform", "joint" },
        { "llama-gqa", "2-norm", "joint" },
        { "llama-gqa", "high", "split" },
        { "llama-gqa", "2-norm", "split" },
        { "qwen2-bias", "2-norm", "joint" },
        { "llama-gqa", "uniform", "activation" },
        { "llama-gqa", "2-norm", "activation" },
        { "qwen2-bias", "high", "activation" },
    };

    // convert compensates RoPE by default where the strategy calibrates (2-norm, rorope); the reference is told so explicitly.
    private static string[] DefaultCompensation(string strategy) => strategy is "2-norm" or "rorope" ? ["--rope-compensation"] : [];

    [Theory]
    [MemberData(nameof(Cases))]
    public void PairsAndPerplexityEqualTheIndependentReference(string architecture, string strategy, string svd)
    {
        var config = architecture == "qwen2-bias" ? TinyConfigs.Llama(4, 2).With("model_type", "qwen2") : TinyConfigs.Llama(4, 2);
        var (model, calib, eval) = Setup(config, $"{architecture}-{strategy}-{svd}");
        var report = Convert(model, "--rope-strategy", strategy, "--rope-pairs", "2", "--kv-rank", "4", "--svd", svd,
            "--calib-data", calib, "--calib-seq-len", "24", "--eval-data", eval, "--steps", "0");

        var reference = JsonDocument.Parse(Reference.RunScript("mla_reference.py", ["convert", model, "--strategy", strategy, "--pairs", "2",
            "--kv-rank", "4", "--svd", svd, "--eval", eval, "--calib", calib, .. DefaultCompensation(strategy)])).RootElement;
        static string Pairs(JsonElement e) => JsonSerializer.Serialize(e.Deserialize<int[][][]>());
        Assert.Equal(Pairs(reference.GetProperty("pairs")), Pairs(report.GetProperty("rope").GetProperty("pairs")));
        var ours = report.GetProperty("perplexity").GetProperty("converted").GetDouble();
        var theirs = reference.GetProperty("perplexity").GetDouble();
        Assert.True(Relative(ours, theirs) <= 1e-4, $"{strategy}/{svd}: ours {ours} vs reference {theirs}");
        Assert.True(report.GetProperty("perplexity").GetProperty("finetuned").ValueKind == JsonValueKind.Null);
    }

    [Theory]
    [InlineData("2-norm", "joint", "25%")]
    [InlineData("high", "split", "40")]
    [InlineData("2-norm", "activation", "25%")]
    public void AKvBudgetChoosesTheWidthsAnExactSearchChoosesAndEveryReaderFollowsThem(string strategy, string svd, string budget)
    {
        // Four layers, n_kv = 2, d_h = 16, r = 2: the original caches 64 elements per token per
        // layer, so 25 % is 64 per token over the layers; minus the rotated keys (8 per layer)
        // leaves 32 latent elements; "40" per layer leaves 4·(40 − 8) = 128.
        var (model, calib, eval) = Setup(TinyConfigs.Llama(4, 2).With("num_hidden_layers", 4), $"budget-{strategy}-{svd}");
        var report = Convert(model, "--rope-strategy", strategy, "--rope-pairs", "2", "--kv-budget", budget, "--svd", svd,
            "--calib-data", calib, "--calib-seq-len", "24", "--eval-data", eval);
        var output = report.GetProperty("output").GetString()!;
        var widths = report.GetProperty("settings").GetProperty("latent_dims").Deserialize<int[]>()!;
        Assert.Equal(budget == "25%" ? 32 : 128, widths.Sum());
        Assert.True(report.GetProperty("settings").GetProperty("kv_rank").ValueKind == JsonValueKind.Null);
        Assert.Equal(budget, report.GetProperty("settings").GetProperty("kv_budget").GetString());

        // The plain-PyTorch reference chooses its widths by a dynamic programme (not greedily) and
        // converts with them: same widths, same perplexity.
        var reference = JsonDocument.Parse(Reference.RunScript("mla_reference.py", ["convert", model, "--strategy", strategy, "--pairs", "2",
            "--kv-budget", budget, "--svd", svd, "--eval", eval, "--calib", calib, .. DefaultCompensation(strategy)])).RootElement;
        Assert.Equal(reference.GetProperty("latent_dims").Deserialize<int[]>(), widths);
        var converted = report.GetProperty("perplexity").GetProperty("converted").GetDouble();
        Assert.True(Relative(converted, reference.GetProperty("perplexity").GetDouble()) <= 1e-4, $"ours {converted} vs reference {reference}");

        // config.json (format 2), the KV figures, and every reader: eval, inspect, plain PyTorch.
        var mla = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "config.json"))).RootElement.GetProperty("mla");
        Assert.Equal(2, mla.GetProperty("version").GetInt32());
        Assert.Equal(widths, mla.GetProperty("latent_dims").Deserialize<int[]>());
        var kv = report.GetProperty("kv_cache");
        Assert.Equal(widths.Sum() + 4 * 8, kv.GetProperty("elements_per_token").GetProperty("mla").GetInt64());
        Assert.Equal((widths.Sum() + 4 * 8) / 4.0, kv.GetProperty("elements_per_token_per_layer").GetProperty("mla").GetDouble(), 9);
        Assert.Equal(converted, JsonDocument.Parse(Support.Cli.Run("eval", output, "--data", eval, "--json").Stdout).RootElement.GetProperty("perplexity").GetDouble(), 9);
        var python = JsonDocument.Parse(Reference.RunScript("mla_perplexity.py", output, "--data", eval)).RootElement.GetProperty("perplexity").GetDouble();
        Assert.True(Relative(python, converted) <= 1e-5, $"plain PyTorch {python} vs mha2mla {converted}");
        var inspect = Support.Cli.Run("inspect", output);
        Assert.Contains($"per layer under --kv-budget {budget}: {string.Join(",", widths)}", inspect.Stdout);
        // Through the KV cache decoding uses (one latent buffer per layer, each its own width).
        var cached = JsonDocument.Parse(Support.Cli.Run("eval", output, "--data", eval, "--kv-cache-dtype", "f32", "--json").Stdout).RootElement.GetProperty("perplexity").GetDouble();
        Assert.True(Relative(cached, converted) <= 1e-5, $"through the cache {cached} vs {converted}");
        var train = Support.Cli.Run("train", output, "--data", eval, "-o", dir.File($"budget-{strategy}-{svd}-tuned"), "--steps", "1", "--batch", "2");
        Assert.True(train.ExitCode == 0, train.ToString());
    }

    [Fact]
    public void ALatentNormStartsAtTheLatentsRmsAndSharedPairsAreTheSummedScoresChoice()
    {
        var (model, calib, eval) = Setup(TinyConfigs.Llama(4, 2).With("num_hidden_layers", 3), "latent-norm");
        var report = Convert(model, "--rope-strategy", "2-norm", "--rope-shared", "--latent-norm", "--rope-pairs", "2", "--kv-rank", "4",
            "--calib-data", calib, "--calib-seq-len", "24", "--eval-data", eval, "--save-dtype", "f32");
        var output = report.GetProperty("output").GetString()!;

        // Shared pairs: every layer the same, and what the reference chooses from scores summed over layers.
        var pairs = report.GetProperty("rope").GetProperty("pairs").Deserialize<int[][][]>()!;
        Assert.All(pairs, layer => Assert.Equal(JsonSerializer.Serialize(pairs[0]), JsonSerializer.Serialize(layer)));
        var reference = JsonDocument.Parse(Reference.RunScript("mla_reference.py", "convert", model, "--strategy", "2-norm", "--pairs", "2",
            "--kv-rank", "4", "--eval", eval, "--calib", calib, "--shared")).RootElement;
        Assert.Equal(JsonSerializer.Serialize(reference.GetProperty("pairs").Deserialize<int[][][]>()), JsonSerializer.Serialize(pairs));
        var mla = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "config.json"))).RootElement.GetProperty("mla");
        Assert.True(mla.GetProperty("latent_norm").GetBoolean());
        Assert.True(mla.GetProperty("rope_shared").GetBoolean());

        // The norm's weight: the latent's RMS on the calibration inputs, as plain PyTorch measures it.
        var rms = JsonDocument.Parse(Reference.RunScript("mla_reference.py", "latent-rms", model, output, "--calib", calib)).RootElement.Deserialize<double[]>()!;
        // Each layer's norm weight as plain PyTorch reads the checkpoint.
        static double[][] NormWeights(string checkpoint) => JsonDocument.Parse(Reference.RunPython(
            "import sys, json; sys.path.insert(0, sys.argv[2]); import mla_perplexity as m; W = m.load_weights(sys.argv[1]); " +
            "print(json.dumps([W[f'model.layers.{i}.self_attn.kv_latent_norm.weight'].tolist() for i in range(3)]))", checkpoint)).RootElement.Deserialize<double[][]>()!;
        var weights = NormWeights(output);
        for (var l = 0; l < 3; l++)
            Assert.All(weights[l], w => Assert.True(Relative(w, rms[l]) <= 1e-5, $"layer {l}: {w} vs {rms[l]}"));

        // Read back with the norm: plain PyTorch, eval, and the absorbed cache path.
        var converted = report.GetProperty("perplexity").GetProperty("converted").GetDouble();
        var python = JsonDocument.Parse(Reference.RunScript("mla_perplexity.py", output, "--data", eval)).RootElement.GetProperty("perplexity").GetDouble();
        Assert.True(Relative(python, converted) <= 1e-5, $"plain PyTorch {python} vs mha2mla {converted}");
        var cached = JsonDocument.Parse(Support.Cli.Run("eval", output, "--data", eval, "--kv-cache-dtype", "f32", "--json").Stdout).RootElement.GetProperty("perplexity").GetDouble();
        Assert.True(Relative(cached, converted) <= 1e-5, $"through the cache {cached} vs {converted}");

        // The fine-tune trains the norm.
        var tuned = dir.File("latent-norm-tuned");
        var train = Support.Cli.Run("train", output, "--data", eval, "-o", tuned, "--steps", "3", "--batch", "2", "--lr", "1e-2");
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.NotEqual(weights[0], NormWeights(tuned)[0]);
    }

    [Fact]
    public void AVersionOneConfigStillLoads()
    {
        var (model, calib, eval) = Setup(TinyConfigs.Llama(4, 2), "v1");
        var report = Convert(model, "--rope-pairs", "2", "--kv-rank", "4", "--calib-data", calib, "--eval-data", eval);
        var output = report.GetProperty("output").GetString()!;
        // Rewrite "mla" as version 1 wrote it: one latent_dim, no latent_dims.
        var path = Path.Combine(output, "config.json");
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        var mla = config["mla"]!.AsObject();
        mla["version"] = 1;
        mla.Remove("latent_dims");
        mla.Remove("kv_budget");
        mla["latent_dim"] = 8;
        File.WriteAllText(path, config.ToJsonString());
        var evaluated = JsonDocument.Parse(Support.Cli.Run("eval", output, "--data", eval, "--json").Stdout).RootElement.GetProperty("perplexity").GetDouble();
        Assert.Equal(report.GetProperty("perplexity").GetProperty("converted").GetDouble(), evaluated, 9);

        mla["version"] = 4;
        File.WriteAllText(path, config.ToJsonString());
        Support.Cli.AssertBadInput(Support.Cli.Run("eval", output, "--data", eval), "reads versions 1 to 3");
        // A shared rope head is version 3's: an older version saying so was edited by hand.
        mla["version"] = 2;
        mla["rope_heads"] = 1;
        File.WriteAllText(path, config.ToJsonString());
        Support.Cli.AssertBadInput(Support.Cli.Run("eval", output, "--data", eval), "mla.rope_heads");
    }

    [Fact]
    public void TheOutputIsReadByPlainPyTorchAndByEvalInspectAndTrain()
    {
        var (model, calib, eval) = Setup(TinyConfigs.Llama(4, 2, tied: true), "interop");
        var report = Convert(model, "--rope-pairs", "2", "--kv-rank", "4", "--calib-data", calib, "--eval-data", eval);
        var output = report.GetProperty("output").GetString()!;
        var converted = report.GetProperty("perplexity").GetProperty("converted").GetDouble();

        var python = JsonDocument.Parse(Reference.RunScript("mla_perplexity.py", output, "--data", eval)).RootElement.GetProperty("perplexity").GetDouble();
        Assert.True(Relative(python, converted) <= 1e-5, $"plain PyTorch {python} vs mha2mla {converted}");
        var evaluated = JsonDocument.Parse(Support.Cli.Run("eval", output, "--data", eval, "--json").Stdout).RootElement.GetProperty("perplexity").GetDouble();
        Assert.Equal(converted, evaluated, 9);

        // KV cache: R + 2r·n_kv = 2·4 + 2·2·2 = 16 of 2·n_kv·d_h = 64 per token per layer.
        var kv = report.GetProperty("kv_cache");
        Assert.Equal(64, kv.GetProperty("elements_per_token_per_layer").GetProperty("original").GetInt64());
        Assert.Equal(16, kv.GetProperty("elements_per_token_per_layer").GetProperty("mla").GetInt64());
        Assert.Equal(100.0 * (1 - 16.0 / 64), kv.GetProperty("reduction_percent").GetDouble(), 9);
        Assert.Equal(16 * 2 * 4, kv.GetProperty("bytes_per_token").GetProperty("mla").GetInt64()); // 2 layers, f32
        var inspect = JsonDocument.Parse(Support.Cli.Run("inspect", output, "--json").Stdout).RootElement;
        Assert.Equal(16, inspect.GetProperty("kv_cache").GetProperty("elements_per_token_per_layer").GetInt64());

        var train = Support.Cli.Run("train", output, "--data", eval, "-o", dir.File("tuned"), "--steps", "2", "--batch", "2");
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.True(File.Exists(Path.Combine(dir.File("tuned"), "config.json")));
        Assert.Contains("\"mla\"", File.ReadAllText(Path.Combine(dir.File("tuned"), "config.json")));
    }

    [Fact]
    public void FineTuneAfterConversionAndARecipeWhoseFlagsCanBeOverridden()
    {
        var (model, _, _) = Setup(TinyConfigs.Llama(4, 2), "finetune");
        // A rule the model can learn and that holds on held-out sequences too: each token is the
        // previous one plus 7 (mod 97). Training and held-out sequences start at different tokens.
        static int[][] Arithmetic(IEnumerable<int> starts) => starts.Select(s => Enumerable.Range(0, 24).Select(t => (s + 7 * t) % 97).ToArray()).ToArray();
        var train = dir.File("arithmetic-train.json");
        File.WriteAllText(train, JsonSerializer.Serialize(Arithmetic(Enumerable.Range(0, 24).Select(i => i * 4))));
        var eval = dir.File("arithmetic-eval.json");
        File.WriteAllText(eval, JsonSerializer.Serialize(Arithmetic([1, 50, 95])));
        var recipe = dir.File("recipe.yaml");
        File.WriteAllText(recipe, $"rope-strategy: uniform\nrope-pairs: 2\nkv-rank: 2\ntrain-data: {train}\neval-data: {eval}\nsteps: 30\nlr: 3e-3\nbatch: 4\n");
        var report = Convert(model, "--config", recipe, "--kv-rank", "4"); // the flag wins over the recipe's 2
        Assert.Equal(4, report.GetProperty("settings").GetProperty("kv_rank").GetInt32());
        Assert.Equal("uniform", report.GetProperty("settings").GetProperty("rope_strategy").GetString());
        var ppl = report.GetProperty("perplexity");
        var (converted, finetuned) = (ppl.GetProperty("converted").GetDouble(), ppl.GetProperty("finetuned").GetDouble());
        Assert.True(finetuned < converted, $"the fine-tune did not lower the held-out perplexity: {converted} -> {finetuned}");
        Assert.Contains(report.GetProperty("stages").EnumerateArray(), s => s.GetProperty("stage").GetString() == "finetune");
        Assert.True(File.Exists(Path.Combine(report.GetProperty("output").GetString()!, "REPORT.md")));
    }

    [Fact]
    public void BadInputLeavesNoOutputBehind()
    {
        var (model, _, eval) = Setup(TinyConfigs.Llama(4, 2), "bad");
        void Expect(string fragment, params string[] options)
        {
            var output = dir.File($"bad-{Guid.NewGuid():N}");
            Support.Cli.AssertBadInput(Support.Cli.Run(["convert", model, "-o", output, .. options]), fragment);
            Assert.False(Directory.Exists(output));
            Assert.Empty(Directory.GetDirectories(dir.Path, ".bad-*"));
        }
        Expect("beyond the rank", "--rope-strategy", "high", "--kv-rank", "100");
        Expect("give one", "--rope-strategy", "high", "--kv-rank", "4", "--kv-budget", "25%");
        Expect("neither a percentage", "--rope-strategy", "high", "--kv-budget", "a lot");
        Expect("less than the smallest latent", "--rope-strategy", "high", "--kv-budget", "1%");
        Expect("not smaller than the original cache (64 elements", "--rope-strategy", "high", "--kv-budget", "70");
        Expect("--rope-pairs 9 must be between 1 and d_h/2 = 8", "--rope-strategy", "high", "--rope-pairs", "9");
        Expect("2-norm ranks frequencies on calibration data", "--kv-rank", "4");
        Expect("no such file", "--rope-strategy", "high", "--eval-data", dir.File("missing.json"));
        Expect("needs --train-data", "--rope-strategy", "high", "--steps", "5");

        var qk = Reference.MakeCheckpoint(dir.Sub("qwen3"), TinyConfigs.Llama(4, 2));
        var config = Path.Combine(qk, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"llama\"", "\"qwen3\""));
        Support.Cli.AssertBadInput(Support.Cli.Run("convert", qk, "-o", dir.File("q3"), "--rope-strategy", "high"), "QK-norm");
        Assert.False(Directory.Exists(dir.File("q3")));
    }

    public void Dispose() => dir.Dispose();
}
