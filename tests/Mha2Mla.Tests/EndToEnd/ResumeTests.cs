namespace Mha2Mla.Tests.EndToEnd;

/// <summary>
/// Training is resumable exactly: a run killed while writing a checkpoint (Environment.FailFast,
/// as abrupt as kill -9) leaves the previous checkpoint loadable, and resuming from it ends with
/// weights bitwise identical to an uninterrupted run.
/// </summary>
public class ResumeTests : IDisposable
{
    private readonly TempDir dir = new();

    private string[] TrainArgs(string model, string data, string output) =>
        ["train", model, "--data", data, "-o", output, "--steps", "12", "--save-every", "4", "--keep", "2",
         "--lr", "2e-3", "--batch", "2", "--grad-accum", "2", "--seq-len", "8", "--seed", "5", "--save-dtype", "f32", "--threads", "2"];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]   // DeepSeek-V3 (q-LoRA): read as MLA, checkpointed and written as DeepSeek-V3
    public void KilledMidCheckpointThenResumedEqualsAnUninterruptedRunBitForBit(bool deepSeek)
    {
        var model = dir.Sub("model");
        if (deepSeek) Reference.RunScript("deepseek_reference.py", "make", model, "--config", JsonSerializer.Serialize(TinyConfigs.DeepSeekV3(queryLoraRank: 16)));
        else Reference.MakeCheckpoint(model, TinyConfigs.Llama(4, 2));
        var data = dir.File("data.json");
        Reference.Run("ids", data, "--count", "10", "--length", "20", "--vocab", "97", "--seed", "1");

        var straight = dir.File("straight");
        var result = global::Mha2Mla.Tests.Support.Cli.Run(TrainArgs(model, data, straight));
        Assert.True(result.ExitCode == 0, result.ToString());

        var interrupted = dir.File("interrupted");
        var crash = new Dictionary<string, string> { ["MHA2MLA_TEST_CRASH_DURING_CHECKPOINT"] = "8" };
        var crashed = global::Mha2Mla.Tests.Support.Cli.RunWith(crash, TrainArgs(model, data, interrupted));
        Assert.NotEqual(0, crashed.ExitCode);
        Assert.Empty(Directory.GetFiles(interrupted, "*.safetensors"));
        var checkpoints = Path.Combine(interrupted, "checkpoints");
        Assert.True(Directory.Exists(Path.Combine(checkpoints, "step-00000004")));
        Assert.True(Directory.Exists(Path.Combine(checkpoints, "step-00000008.partial"))); // the half-written one

        var resumed = global::Mha2Mla.Tests.Support.Cli.Run([.. TrainArgs(model, data, interrupted), "--resume"]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.False(Directory.Exists(Path.Combine(checkpoints, "step-00000008.partial")));

        var shards = Directory.GetFiles(straight, "*.safetensors").Select(Path.GetFileName).Order().ToList();
        Assert.Equal(shards, Directory.GetFiles(interrupted, "*.safetensors").Select(Path.GetFileName).Order());
        foreach (var shard in shards)
            Assert.Equal(File.ReadAllBytes(Path.Combine(straight, shard!)), File.ReadAllBytes(Path.Combine(interrupted, shard!)));
        // metrics.jsonl: steps 1–4 of the first attempt (5–8 were lost with the unfinished checkpoint and run again), then 5–12.
        Assert.Equal(File.ReadAllLines(Path.Combine(straight, "metrics.jsonl")).Length, File.ReadAllLines(Path.Combine(interrupted, "metrics.jsonl")).Length);
    }

    [Fact]
    public void ResumingWithDifferentOptionsOrNothingToResumeIsAnInputError()
    {
        var model = Reference.MakeCheckpoint(dir.Sub("model2"), TinyConfigs.Llama(4, 2));
        var data = dir.File("data2.json");
        Reference.Run("ids", data, "--count", "4", "--length", "10", "--vocab", "97");
        var output = dir.File("out");

        global::Mha2Mla.Tests.Support.Cli.AssertBadInput(global::Mha2Mla.Tests.Support.Cli.Run([.. TrainArgs(model, data, output), "--resume"]), "no complete checkpoint");
        var crash = new Dictionary<string, string> { ["MHA2MLA_TEST_CRASH_DURING_CHECKPOINT"] = "8" };
        global::Mha2Mla.Tests.Support.Cli.RunWith(crash, TrainArgs(model, data, output));
        var changed = TrainArgs(model, data, output).Select(a => a == "2e-3" ? "1e-3" : a).ToArray();
        global::Mha2Mla.Tests.Support.Cli.AssertBadInput(global::Mha2Mla.Tests.Support.Cli.Run([.. changed, "--resume"]), "other options");
        global::Mha2Mla.Tests.Support.Cli.AssertBadInput(global::Mha2Mla.Tests.Support.Cli.Run(TrainArgs(model, data, output)), "already exists");
    }

    public void Dispose() => dir.Dispose();
}
