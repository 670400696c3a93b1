using Mha2Mla.Training;

namespace Mha2Mla.Tests.EndToEnd;

/// <summary>
/// What CI can check of scripts/recipes/fsdp (transformers and GPUs are not here): its --check
/// reads a DeepSeek-V3 checkpoint the plain-PyTorch reference wrote and the windows `mha2mla
/// tokenize --data` wrote, and finds them as mha2mla does; its learning-rate schedule is `mha2mla
/// train`'s, step for step; its batches ignore exactly the padding; its accelerate config is the one
/// the recipe relies on; bad input is one line and exit 2. The run itself is scripts/gpu-kit's.
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

    private static void AssertRefused(ProcessResult result, string fragment)
    {
        Assert.True(result.ExitCode == 2, $"expected exit code 2, got {result}");
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one error line, got {result}");
        Assert.StartsWith("finetune.py: error: ", lines[0]);
        Assert.Contains(fragment, lines[0]);
    }

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
        Assert.Equal(6, plan.GetProperty("windows_per_step").GetInt32());
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

    public void Dispose() => dir.Dispose();
}
