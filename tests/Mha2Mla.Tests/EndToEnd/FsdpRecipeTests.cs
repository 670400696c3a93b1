using Mha2Mla.Training;

namespace Mha2Mla.Tests.EndToEnd;

/// <summary>
/// What CI can check of scripts/recipes/fsdp (transformers and GPUs are not here): its --check
/// reads a DeepSeek-V3 checkpoint the plain-PyTorch reference wrote and the windows `mha2mla
/// tokenize --data` wrote, and finds them as mha2mla does; its learning-rate schedule is `mha2mla
/// train`'s, step for step; its batches ignore exactly the padding; its accelerate config is the one
/// the recipe relies on; bad input is one line and exit 2; and with transformers stood in for
/// (tests/recipes/stand_in), a run's own code writes an OUT mha2mla reads as the model it was given.
/// The real run is scripts/gpu-kit's.
/// </summary>
public class FsdpRecipeTests : IDisposable
{
    private readonly TempDir dir = new();

    private static string Recipe => Path.Combine(RepoPaths.Root, "scripts", "recipes", "fsdp");

    private static ProcessResult Check(params string[] args) =>
        ProcessRunner.Run(Reference.Python, [Path.Combine(Recipe, "finetune.py"), "--check", .. args]);

    private string DeepSeek(string name, Dictionary<string, object?> config)
    {
        var model = dir.Sub(name);
        Reference.RunScript("deepseek_reference.py", "make", model, "--config", JsonSerializer.Serialize(config), "--dtype", "bf16", "--shards", "1", "--seed", "3");
        return model;
    }

    // Windows of 12 from five sequences of 20 token ids: each cut into 12 + 8.
    private (string File, JsonElement Result) Windows(string model)
    {
        var ids = dir.File("ids.json");
        Reference.Run("ids", ids, "--count", "5", "--length", "20", "--vocab", "97", "--seed", "7");
        var output = dir.File("windows");
        var run = Support.Cli.Run("tokenize", model, "--data", ids, "--seq-len", "12", "-o", output, "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        return (Path.Combine(output, "windows.jsonl"), JsonDocument.Parse(run.Stdout).RootElement.Clone());
    }

    private static void AssertRefused(ProcessResult result, string fragment) => Support.Cli.AssertBadInput(result, fragment, prefix: "finetune.py: error: ");

    [Fact]
    public void TheCheckFindsTheWindowsTheScheduleAndTheConfigAsMha2mlaDoes()
    {
        var model = DeepSeek("ds", TinyConfigs.DeepSeekV3(queryLoraRank: 16));
        var (windows, tokenized) = Windows(model);
        var run = Check("--model", model, "--data", windows, "--accelerate-config", Path.Combine(Recipe, "accelerate-fsdp.yaml"),
            "--steps", "40", "--batch", "3", "--grad-accum", "2", "--lr", "3e-4", "--warmup", "0.1", "--decay", "0.25");
        Assert.True(run.ExitCode == 0, run.ToString());
        var plan = JsonDocument.Parse(run.Stdout).RootElement;

        Assert.Equal(10, plan.GetProperty("windows").GetInt32());
        Assert.Equal(tokenized.GetProperty("sequences").GetInt64(), plan.GetProperty("windows").GetInt64());
        Assert.Equal(tokenized.GetProperty("tokens").GetInt64(), plan.GetProperty("tokens").GetInt64());
        Assert.Equal(12, plan.GetProperty("longest").GetInt32());
        Assert.Equal(8, plan.GetProperty("processes").GetInt32());   // the accelerate config's GPUs
        Assert.Equal(3 * 2 * 8, plan.GetProperty("windows_per_step").GetInt32());
        Assert.Equal(40.0 * 48 / 10, plan.GetProperty("epochs").GetDouble(), 10);
        Assert.Equal(2, plan.GetProperty("model").GetProperty("layers").GetInt32());

        // The first batch holds windows 0..2 (12, 8, 12 tokens) padded to 12: 4 ignored labels.
        Assert.Equal([3, 12], plan.GetProperty("first_batch").GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()));
        Assert.Equal(4, plan.GetProperty("first_batch").GetProperty("ignored_labels").GetInt32());

        // mha2mla train's schedule, step for step: warmup 4 steps, constant, 1-sqrt decay over the last 10 to zero.
        var options = new TrainingOptions { Steps = 40, LearningRate = 3e-4, WarmupFraction = 0.1, DecayFraction = 0.25 };
        var lr = plan.GetProperty("lr").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        Assert.Equal(40, lr.Length);
        for (var k = 0; k < lr.Length; k++)
            Assert.True(Math.Abs(lr[k] - LearningRate.At(k + 1, options)) <= 1e-15, $"step {k + 1}: recipe {lr[k]}, mha2mla {LearningRate.At(k + 1, options)}");
        Assert.Equal(0.0, lr[^1]);

        var accelerate = plan.GetProperty("accelerate");
        Assert.Equal("DeepseekV3DecoderLayer", accelerate.GetProperty("wrapped").GetString());
        Assert.Equal(2, accelerate.GetProperty("fsdp_version").GetInt32());
    }

    [Fact]
    public void BadInputIsOneLineAndExitTwo()
    {
        var model = DeepSeek("ds-bad", TinyConfigs.DeepSeekV3());
        var (windows, _) = Windows(model);

        var moe = dir.Sub("moe");   // the recipe refuses from config.json alone
        File.WriteAllText(Path.Combine(moe, "config.json"), JsonSerializer.Serialize(TinyConfigs.DeepSeekV3().With("first_k_dense_replace", 1)));
        AssertRefused(Check("--model", moe, "--data", windows), "mixture-of-experts");

        var llama = Reference.MakeCheckpoint(dir.Sub("llama"), TinyConfigs.Llama(4, 2));
        AssertRefused(Check("--model", llama, "--data", windows), "model_type is 'llama'");

        var foreign = dir.File("foreign.jsonl");
        File.WriteAllLines(foreign, ["{\"input_ids\": [1, 2, 3]}", "{\"input_ids\": [4, 97]}"]);
        AssertRefused(Check("--model", model, "--data", foreign), "window 1 holds 97");

        var wrong = dir.File("wrong.yaml");
        File.WriteAllText(wrong, File.ReadAllText(Path.Combine(Recipe, "accelerate-fsdp.yaml")).Replace("DeepseekV3DecoderLayer", "LlamaDecoderLayer"));
        AssertRefused(Check("--model", model, "--data", windows, "--accelerate-config", wrong), "does not name DeepseekV3DecoderLayer");

        AssertRefused(Check("--model", model, "--data", windows, "--warmup", "0.6", "--decay", "0.5"), "more than the whole run");
        var train = ProcessRunner.Run(Reference.Python, [Path.Combine(Recipe, "finetune.py"), "--model", model, "--data", windows]);
        AssertRefused(train, "-o OUT is needed");
    }

    [Fact]
    public void ARunWritesACheckpointMha2mlaReadsAsTheModelItTrained()
    {
        // transformers' Trainer is stood in for (tests/recipes/stand_in: it trains nothing), so what
        // runs is the recipe's own code around it: the scheduler hook, the save, the cast back to the
        // export's bf16, the companions, metrics.jsonl and the swap into OUT.
        var model = DeepSeek("ds-run", TinyConfigs.DeepSeekV3(queryLoraRank: 16));
        File.WriteAllText(Path.Combine(model, "generation_config.json"), "{\"bos_token_id\": 0}");
        var (windows, _) = Windows(model);
        var output = dir.File("tuned");
        var standIn = new Dictionary<string, string>
        {
            ["PYTHONPATH"] = $"{Path.Combine(RepoPaths.Root, "tests", "recipes", "stand_in")}:{Path.Combine(RepoPaths.Root, "tests", "reference")}",
        };
        ProcessResult Train(params string[] extra) => ProcessRunner.Run(Reference.Python,
            [Path.Combine(Recipe, "finetune.py"), "--model", model, "--data", windows, "-o", output, "--steps", "6", "--batch", "2", "--log-every", "1", .. extra], environment: standIn);

        var run = Train();
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("step 6/6", run.Stdout);
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "config.json"))).RootElement;
        Assert.Equal("bfloat16", config.GetProperty("dtype").GetString());
        Assert.True(File.Exists(Path.Combine(output, "generation_config.json")));
        var metrics = File.ReadAllLines(Path.Combine(output, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(Enumerable.Range(1, 6), metrics.Select(m => m.GetProperty("step").GetInt32()));
        Assert.DoesNotContain(Directory.GetDirectories(dir.Path), d => Path.GetFileName(d).StartsWith("tuned.", StringComparison.Ordinal));   // .partial, -trainer, .previous
        using (var tuned = Checkpoint.Open(output))
            Assert.All(tuned.Weights.Names, name => Assert.Equal(ScalarType.BFloat16, tuned.Weights.Entry(name).DType));

        // Untrained, so mha2mla reads OUT as exactly the model it was given.
        double Perplexity(string checkpoint) =>
            JsonDocument.Parse(Support.Cli.Run("eval", checkpoint, "--data", windows, "--json").Stdout).RootElement.GetProperty("perplexity").GetDouble();
        Assert.Equal(Perplexity(model), Perplexity(output));

        AssertRefused(Train(), "already exists; pass --overwrite");
        var again = Train("--overwrite", "--save-dtype", "float32");
        Assert.True(again.ExitCode == 0, again.ToString());
        using (var tuned = Checkpoint.Open(output))
            Assert.All(tuned.Weights.Names, name => Assert.Equal(ScalarType.Float32, tuned.Weights.Entry(name).DType));
        Assert.DoesNotContain(Directory.GetDirectories(dir.Path), d => Path.GetFileName(d).StartsWith("tuned.", StringComparison.Ordinal));   // .partial, -trainer, .previous
    }

    public void Dispose() => dir.Dispose();
}
