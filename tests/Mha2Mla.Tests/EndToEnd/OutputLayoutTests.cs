namespace Mha2Mla.Tests.EndToEnd;

/// <summary>
/// Every directory any command writes — convert with and without a fine-tune, train (of an
/// original and of an MLA model), and the resumable checkpoints — has the one documented layout,
/// and is read back with the same perplexity by mha2mla eval and by plain PyTorch
/// (scripts/mla_perplexity.py for MLA, tests/reference/llama_reference.py otherwise).
/// </summary>
public class OutputLayoutTests : IDisposable
{
    private readonly TempDir dir = new();

    private static double Relative(double a, double b) => Math.Abs(a - b) / Math.Abs(b);

    private (string Model, string Train, string Eval) Setup(string name, string dtype)
    {
        var model = Reference.MakeCheckpoint(dir.Sub(name), TinyConfigs.Llama(4, 2), dtype, seed: 3);
        var train = dir.File($"{name}-train.json");
        Reference.Run("ids", train, "--count", "6", "--length", "24", "--vocab", "97", "--seed", "21");
        var eval = dir.File($"{name}-eval.json");
        Reference.Run("ids", eval, "--count", "3", "--length", "20", "--vocab", "97", "--seed", "22");
        return (model, train, eval);
    }

    private static double Eval(string model, string data)
    {
        var result = Support.Cli.Run("eval", model, "--data", data, "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.Stdout).RootElement.GetProperty("perplexity").GetDouble();
    }

    private static double PlainPyTorch(string model, string data, bool mla) => mla
        ? JsonDocument.Parse(Reference.RunScript("mla_perplexity.py", model, "--data", data)).RootElement.GetProperty("perplexity").GetDouble()
        : Reference.Perplexity(model, data).Perplexity;

    /// <summary>The layout, and the same perplexity from mha2mla and from plain PyTorch.</summary>
    private static double AssertReadable(string output, string eval, bool mla)
    {
        CheckpointLayout.AssertValid(output, mla);
        var ours = Eval(output, eval);
        var theirs = PlainPyTorch(output, eval, mla);
        Assert.True(Relative(ours, theirs) <= 1e-5, $"{output}: mha2mla eval {ours} vs plain PyTorch {theirs}");
        return ours;
    }

    [Theory]
    [InlineData("bf16")]
    [InlineData("f32")]
    public void ConvertWithAFineTuneWritesTheDocumentedLayout(string dtype)
    {
        var (model, train, eval) = Setup($"convert-{dtype}", dtype);
        var output = dir.File($"mla-{dtype}");
        var result = Support.Cli.Run("convert", model, "-o", output, "--rope-strategy", "uniform", "--rope-pairs", "2", "--kv-rank", "4",
            "--train-data", train, "--eval-data", eval, "--steps", "3", "--batch", "2", "--lr", "3e-3", "--seq-len", "32");
        Assert.True(result.ExitCode == 0, result.ToString());
        var dtypes = CheckpointLayout.AssertValid(output, mla: true);
        Assert.All(dtypes.Values, d => Assert.Equal(dtype.ToUpperInvariant(), d)); // the input's dtype
        Assert.Equal(3, Directory.GetFiles(output, "*.safetensors").Length);        // one shard per layer, one for the rest

        var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "mha2mla_report.json"))).RootElement;
        var finetuned = report.GetProperty("perplexity").GetProperty("finetuned").GetDouble();
        var evaluated = AssertReadable(output, eval, mla: true);
        Assert.True(Relative(evaluated, finetuned) <= 1e-6, $"the report's fine-tuned perplexity {finetuned} is not the written model's {evaluated}");
        Assert.Equal(3, File.ReadAllLines(Path.Combine(output, "finetune_metrics.jsonl")).Length);
    }

    [Fact]
    public void ConvertWithoutEvaluationStreamsTheSameLayout()
    {
        var (model, _, eval) = Setup("streamed", "bf16");
        var output = dir.File("streamed-mla");
        var result = Support.Cli.Run("convert", model, "-o", output, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "4");
        Assert.True(result.ExitCode == 0, result.ToString());
        AssertReadable(output, eval, mla: true);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TrainOutputsAndTheirResumableCheckpointsWriteTheSameLayout(bool mla)
    {
        var (model, train, eval) = Setup($"train-{mla}", "bf16");
        if (mla)
        {
            var converted = dir.File("train-source-mla");
            Assert.Equal(0, Support.Cli.Run("convert", model, "-o", converted, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "4").ExitCode);
            model = converted;
        }
        var output = dir.File($"trained-{mla}");
        var result = Support.Cli.Run("train", model, "--data", train, "-o", output, "--steps", "3", "--batch", "2", "--seq-len", "32",
            "--save-every", "1", "--keep", "5");
        Assert.True(result.ExitCode == 0, result.ToString());
        AssertReadable(output, eval, mla);
        var checkpoints = Directory.GetDirectories(Path.Combine(output, "checkpoints")).Order().ToList();
        Assert.Equal(2, checkpoints.Count); // after steps 1 and 2; the last step is the output itself
        foreach (var checkpoint in checkpoints)
        {
            var dtypes = CheckpointLayout.AssertValid(checkpoint, mla);
            Assert.All(dtypes.Values, d => Assert.Equal("F32", d)); // exact resume needs the fp32 weights
            AssertReadable(checkpoint, eval, mla);
        }

        // Resume from the first checkpoint: the same layout again, and the same weights as the straight run.
        var resumed = dir.File($"resumed-{mla}");
        Directory.CreateDirectory(Path.Combine(resumed, "checkpoints"));
        CopyDirectory(checkpoints[0], Path.Combine(resumed, "checkpoints", Path.GetFileName(checkpoints[0])));
        var again = Support.Cli.Run("train", model, "--data", train, "-o", resumed, "--steps", "3", "--batch", "2", "--seq-len", "32",
            "--save-every", "1", "--keep", "5", "--resume");
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(Eval(output, eval), AssertReadable(resumed, eval, mla));
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }

    public void Dispose() => dir.Dispose();
}
