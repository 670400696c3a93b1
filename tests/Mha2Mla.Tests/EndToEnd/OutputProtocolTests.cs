using System.Diagnostics;

namespace Mha2Mla.Tests.EndToEnd;

/// <summary>
/// The output commit protocol (issue 10, "Data loss"): OUT spelled with a trailing slash, two
/// writers at once, kill -9 at each step of --overwrite, OUT as the input, Ctrl-C — at every
/// instant OUT is the old directory or the new one, whole, and leftovers are cleaned next time.
/// </summary>
public class OutputProtocolTests : IDisposable
{
    private readonly TempDir dir = new();
    private static readonly string[] Fast = ["--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "4"];

    private string Model(string name = "model") => Reference.MakeCheckpoint(dir.Sub(name), TinyConfigs.Llama(4, 2), "f32");

    private static ProcessResult Convert(string model, string output, params string[] options) =>
        Support.Cli.Run(["convert", model, "-o", output, .. Fast, .. options]);

    private static ProcessResult ConvertWith(Dictionary<string, string> environment, string model, string output, params string[] options) =>
        Support.Cli.RunWith(environment, ["convert", model, "-o", output, .. Fast, .. options]);

    /// <summary>An existing OUT that a test can recognize: a complete conversion plus a marker file.</summary>
    private string OldOutput(string model, string name)
    {
        var output = dir.File(name);
        Assert.Equal(0, Convert(model, output).ExitCode);
        File.WriteAllText(Path.Combine(output, "old-marker"), "the old OUT");
        return output;
    }

    private void AssertNoLeftovers() =>
        Assert.DoesNotContain(Directory.GetDirectories(dir.Path, ".*"), d => d.Contains(".partial-") || d.Contains(".old-"));

    [Fact]
    public void ATrailingSlashOnOutReplacesItAsWithout()
    {
        var model = Model();
        var output = OldOutput(model, "slash");
        var result = Convert(model, output + "/", "--overwrite");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.False(File.Exists(Path.Combine(output, "old-marker")));
        CheckpointLayout.AssertValid(output, mla: true);
        Assert.Empty(Directory.GetDirectories(output)); // nothing was built inside OUT
        AssertNoLeftovers();
    }

    [Fact]
    public async Task TwoConvertsToOneOutExactlyOneSucceeds()
    {
        var model = Model();
        var eval = dir.File("eval.json");
        Reference.Run("ids", eval, "--count", "200", "--length", "64", "--vocab", "97", "--seed", "1"); // a few seconds of work
        var output = dir.File("contested");
        var runs = Enumerable.Range(0, 2).Select(_ => Task.Run(() => Convert(model, output, "--eval-data", eval))).ToArray();
        var results = await Task.WhenAll(runs);
        Assert.Equal(1, results.Count(r => r.ExitCode == 0));
        var loser = Assert.Single(results, r => r.ExitCode != 0);
        Support.Cli.AssertBadInput(loser, "");
        Assert.Matches("being written by another mha2mla process \\(PID \\d+\\)|already exists", loser.Stderr);
        CheckpointLayout.AssertValid(output, mla: true);
        AssertNoLeftovers();
    }

    [Theory]
    [InlineData("after-first-layer")]
    [InlineData("before-swap")]
    [InlineData("after-swap")]
    public void KillNineDuringOverwriteLeavesTheOldOrTheNewOutNeverAMix(string point)
    {
        var model = Model();
        var output = OldOutput(model, $"killed-{point}");
        var crash = new Dictionary<string, string> { ["MHA2MLA_TEST_CRASH_AT"] = point };
        Assert.NotEqual(0, ConvertWith(crash, model, output, "--overwrite").ExitCode);

        var old = File.Exists(Path.Combine(output, "old-marker"));
        Assert.Equal(point != "after-swap", old);       // before the swap: the old OUT; after it: the new one
        CheckpointLayout.AssertValid(output, mla: true); // whole, either way
        var report = File.Exists(Path.Combine(output, "mha2mla_report.json"));
        Assert.True(report);

        // The next run on this OUT cleans what the dead one left and succeeds.
        var again = Convert(model, output, "--overwrite");
        Assert.True(again.ExitCode == 0, again.ToString());
        AssertNoLeftovers();
        Assert.False(File.Exists(Path.Combine(output, "old-marker")));
    }

    [Fact]
    public void OutMayNotBeTheInputHoldItOrLieInsideIt()
    {
        var model = Model();
        var before = Directory.GetFiles(model).ToDictionary(f => f, File.ReadAllBytes);
        Support.Cli.AssertBadInput(Convert(model, model, "--overwrite"), "would replace the input");
        Support.Cli.AssertBadInput(Convert(model, dir.Path, "--overwrite"), "would replace the input");
        Support.Cli.AssertBadInput(Convert(model, Path.Combine(model, "inside")), "lies inside the input");
        var data = dir.File("data.json");
        Reference.Run("ids", data, "--count", "4", "--length", "12", "--vocab", "97");
        Support.Cli.AssertBadInput(Support.Cli.Run("train", model, "--data", data, "-o", model, "--overwrite", "--steps", "1"), "would replace the input");
        foreach (var (file, bytes) in before) Assert.Equal(bytes, File.ReadAllBytes(file));
    }

    [Fact]
    public void CtrlCPrintsOneLineAndLeavesOutAsItWas()
    {
        var model = Model();
        var output = OldOutput(model, "interrupted");
        var eval = dir.File("long-eval.json");
        Reference.Run("ids", eval, "--count", "8000", "--length", "64", "--vocab", "97", "--seed", "2");
        // Through env --default-signal=INT: a shell without job control starts background commands
        // (`.ci/run &`, nohup) with SIGINT ignored, children inherit that, and .NET, as Unix tools
        // do, then leaves Ctrl-C ignored. The test is about a terminal's Ctrl-C, so it restores it.
        var info = new ProcessStartInfo("env") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "--default-signal=INT", "dotnet", Path.Combine(AppContext.BaseDirectory, "mha2mla.dll"), "convert", model, "-o", output, "--overwrite", "--eval-data", eval }.Concat(Fast))
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        // The pipes are drained on threads of their own: in a full suite the thread pool can be so
        // busy that an async read stalls, and a child blocked on a full pipe never exits.
        var (stderr, stdout) = (new System.Text.StringBuilder(), new System.Text.StringBuilder());
        var readers = new[] { Drain(process.StandardError, stderr), Drain(process.StandardOutput, stdout) };
        // Wait until the run has begun its work (the partial directory exists; a loaded machine may
        // take long to get there), then interrupt it while it evaluates.
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (!Directory.GetDirectories(dir.Path, ".interrupted.partial-*").Any() && !process.HasExited && DateTime.UtcNow < deadline) Thread.Sleep(50);
        Assert.True(Directory.GetDirectories(dir.Path, ".interrupted.partial-*").Any(), $"the run never began its output:\n{Text()}");
        Thread.Sleep(500);
        Process.Start("kill", ["-INT", process.Id.ToString()])!.WaitForExit();   // env exec'd dotnet: the same process
        Assert.True(process.WaitForExit(120_000), $"the run did not stop on SIGINT:\n{Text()}");
        foreach (var reader in readers) reader.Join();
        Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}:\n{Text()}");
        var lines = Text().Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("mha2mla:")).ToList();
        Assert.True(lines.Count == 1 && lines[0].Contains("interrupted"), Text());
        Assert.True(File.Exists(Path.Combine(output, "old-marker")));
        AssertNoLeftovers();

        string Text() { lock (stderr) return stderr.ToString(); }
    }

    private static Thread Drain(StreamReader from, System.Text.StringBuilder into)
    {
        var thread = new Thread(() =>
        {
            while (from.ReadLine() is { } line)
                lock (into) into.Append(line).Append('\n');
        }) { IsBackground = true };
        thread.Start();
        return thread;
    }

    public void Dispose() => dir.Dispose();
}
