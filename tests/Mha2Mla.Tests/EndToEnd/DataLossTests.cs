namespace Mha2Mla.Tests.EndToEnd;

/// <summary>
/// Nothing the user had is lost (issue 20, "Data loss"): an input kept inside OUT is refused,
/// not deleted by --overwrite, whichever option (or recipe) names it; a run that fails on its
/// input leaves no OUT behind, so the corrected rerun is not refused; and a sweep replaced with
/// --overwrite survives a kill until the new sweep has a complete point.
/// </summary>
public class DataLossTests : IDisposable
{
    private readonly TempDir dir = new();
    private static readonly string[] Fast = ["--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "4", "--steps", "0"];

    private string Model() => Reference.MakeCheckpoint(dir.Sub("model"), TinyConfigs.Llama(4, 2), "f32");

    private string Ids(string path, int count = 2, int length = 12)
    {
        Reference.Run("ids", path, "--count", count.ToString(), "--length", length.ToString(), "--vocab", "97", "--seed", "3");
        return path;
    }

    private static void Ok(ProcessResult result) => Assert.True(result.ExitCode == 0, result.ToString());

    [Fact]
    public void AnInputInsideOutIsRefusedForEveryOptionAndSurvives()
    {
        var model = Model();
        var output = dir.File("out");
        Ok(Support.Cli.Run(["convert", model, "-o", output, .. Fast]));
        var recipe = Path.Combine(output, "recipe.yaml");
        File.WriteAllText(recipe, "rope-strategy: high\nrope-pairs: 2\nkv-rank: 4\nsteps: 0\n");
        var data = Ids(Path.Combine(output, "ids.json"));
        var before = Directory.GetFiles(output).Order().ToList();

        void Refused(params string[] args)
        {
            Support.Cli.AssertBadInput(Support.Cli.Run(args), "would replace the input");
            Assert.Equal(before, Directory.GetFiles(output).Order().ToList());
        }
        Refused("convert", model, "-o", output, "--config", recipe, "--overwrite");
        Refused(["convert", model, "-o", output, .. Fast, "--eval-data", data, "--overwrite"]);
        Refused(["convert", model, "-o", output, "--rope-strategy", "2-norm", "--calib-data", data, "--calib-seq-len", "12", "--overwrite"]);
        Refused("train", model, "--data", data, "-o", output, "--steps", "1", "--overwrite");
        Refused("train", model, "--data", Path.Combine(output, "*.json"), "-o", output, "--steps", "1", "--overwrite"); // a glob searching OUT
        Refused("export", output, "-o", output, "--format", "deepseek-v3", "--calib-data", data, "--overwrite");
        Refused("sweep", model, "-o", output, "--rope-strategy", "high", "--kv-rank", "4", "--eval-data", data, "--overwrite");
    }

    [Fact]
    public void ATrainThatFailsOnItsInputLeavesNoOutAndTheCorrectedRerunRuns()
    {
        var model = Model();
        var output = dir.File("trained");
        var empty = dir.File("empty.json");
        File.WriteAllText(empty, "[]");
        var badConfig = dir.File("bad-config.json");
        File.WriteAllText(badConfig, "{\"model_type\": \"llama\",}");
        foreach (var args in new[]
        {
            new[] { "train", dir.File("no-such-model"), "--data", empty, "-o", output, "--steps", "1" },
            ["train", model, "--data", dir.File("missing.json"), "-o", output, "--steps", "1"],
            ["train", model, "--data", empty, "-o", output, "--steps", "1"],
            ["train", "--init", badConfig, "--data", empty, "-o", output, "--steps", "1"],
            ["train", "--init", dir.File("no-such-config.json"), "--data", empty, "-o", output, "--steps", "1"],
        })
        {
            var result = Support.Cli.Run(args);
            Assert.True(result.ExitCode == 2, result.ToString());
            Assert.False(Directory.Exists(output), $"{string.Join(' ', args)} left {output} behind");
        }
        Ok(Support.Cli.Run("train", model, "--data", Ids(dir.File("ids.json")), "--seq-len", "12", "--batch", "2", "-o", output, "--steps", "1"));
        Assert.True(File.Exists(Path.Combine(output, "metrics.jsonl")));
    }

    [Fact]
    public void ATrainOverwriteThatFailsPutsTheOldRunBack()
    {
        var model = Model();
        var data = Ids(dir.File("ids.json"));
        var output = dir.File("trained");
        Ok(Support.Cli.Run("train", model, "--data", data, "--seq-len", "12", "--batch", "2", "-o", output, "--steps", "1"));
        File.WriteAllText(Path.Combine(output, "old-marker"), "the old run");
        var result = Support.Cli.Run("train", model, "--data", dir.File("missing.json"), "-o", output, "--steps", "1", "--overwrite");
        Assert.Equal(2, result.ExitCode);
        Assert.True(File.Exists(Path.Combine(output, "old-marker")), "the old run is gone");
    }

    /// <summary>kill -9 while a sweep --overwrite of another grid has no complete point: the old sweep comes back, and its own command finds every point.</summary>
    [Theory]
    [InlineData("after-first-layer")]       // inside the new sweep's first point
    [InlineData("before-release-previous")] // its first point complete, the old sweep not yet deleted
    public void ASweepReplacedWithOverwriteSurvivesAKillBeforeItsFirstPoint(string crashAt)
    {
        var model = Model();
        var eval = Ids(dir.File("eval.json"));
        var output = dir.File("sweep");
        string[] Old() => ["sweep", model, "-o", output, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "2,4", "--eval-data", eval, "--steps", "0"];
        Ok(Support.Cli.Run(Old()));
        var oldResults = File.ReadAllText(Path.Combine(output, "results.csv"));

        var killed = Support.Cli.RunWith(new Dictionary<string, string> { ["MHA2MLA_TEST_CRASH_AT"] = crashAt },
            "sweep", model, "-o", output, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "8,6", "--eval-data", eval, "--steps", "0", "--overwrite");
        Assert.NotEqual(0, killed.ExitCode);

        var again = Support.Cli.Run(Old());
        Ok(again);
        Assert.Contains("restoring", again.Stderr);
        Assert.Equal(2, again.Stderr.Split("finished earlier, kept").Length - 1);
        Assert.Equal(oldResults, File.ReadAllText(Path.Combine(output, "results.csv")));
        Assert.DoesNotContain(Directory.GetDirectories(dir.Path, ".*"), d => d.Contains(".set-aside-"));
    }

    /// <summary>Once the new sweep has a complete point it is the one kept: a kill after that resumes the new sweep, the old is gone.</summary>
    [Fact]
    public void ASweepReplacedWithOverwriteIsTheNewOneOnceAPointIsComplete()
    {
        var model = Model();
        var eval = Ids(dir.File("eval.json"));
        var output = dir.File("sweep");
        Ok(Support.Cli.Run("sweep", model, "-o", output, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "2", "--eval-data", eval, "--steps", "0"));
        string[] New() => ["sweep", model, "-o", output, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "8,6", "--eval-data", eval, "--steps", "0", "--overwrite"];
        var killed = Support.Cli.RunWith(new Dictionary<string, string> { ["MHA2MLA_TEST_CRASH_AT"] = "after-sweep-point" }, New());
        Assert.NotEqual(0, killed.ExitCode);
        var again = Support.Cli.Run(New());
        Ok(again);
        Assert.Contains("finished earlier, kept", again.Stderr);
        var points = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "results.json"))).RootElement.GetArrayLength();
        Assert.Equal(2, points);
        Assert.False(Directory.Exists(Path.Combine(output, "high-r2-joint-dkv2")), "the replaced sweep's point is still there");
    }

    /// <summary>kill -9 while an export --overwrite writes and at each step of its commit, then the same command: OUT is the old export or the new one, whole.</summary>
    [Theory]
    [InlineData("after-first-layer")]
    [InlineData("before-swap")]
    [InlineData("after-swap")]
    public void AnExportKilledWhileWritingOrCommittingLeavesTheOldOrTheNewWhole(string crashAt)
    {
        var model = Model();
        var calib = Ids(dir.File("calib.json"));
        var mla = dir.File("mla");
        Ok(Support.Cli.Run(["convert", model, "-o", mla, .. Fast, "--latent-norm", "--calib-data", calib, "--calib-seq-len", "12"]));
        var export = dir.File("export");
        string[] Export() => ["export", mla, "-o", export, "--format", "deepseek-v3", "--overwrite"];
        Ok(Support.Cli.Run(Export()));
        File.WriteAllText(Path.Combine(export, "old-marker"), "the old export");
        var killed = Support.Cli.RunWith(new Dictionary<string, string> { ["MHA2MLA_TEST_CRASH_AT"] = crashAt }, Export());
        Assert.NotEqual(0, killed.ExitCode);
        var whole = File.Exists(Path.Combine(export, "old-marker")) || File.Exists(Path.Combine(export, "config.json"));
        Assert.True(whole && File.Exists(Path.Combine(export, "config.json")), $"after a kill {crashAt}, OUT is neither the old export nor the new one");
        Ok(Support.Cli.Run(Export()));
        Assert.False(File.Exists(Path.Combine(export, "old-marker")));
        Assert.DoesNotContain(Directory.GetDirectories(dir.Path, ".*"), d => d.Contains(".partial-") || d.Contains(".old-"));
    }

    public void Dispose() => dir.Dispose();
}
