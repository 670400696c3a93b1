namespace Mha2Mla.Tests.EndToEnd;

/// <summary>
/// Faults of the machine, not of mha2mla: a full disk and a read-only one are exit 2 with one
/// line that says what and where, and leave no half-written output. Uses small tmpfs mounts
/// (root only; skipped with the reason elsewhere).
/// </summary>
public class EnvironmentFaultTests : IDisposable
{
    private readonly TempDir dir = new();
    private readonly List<string> mounts = [];

    private string? Mount(string name, string options)
    {
        var point = dir.Sub(name);
        var result = ProcessRunner.Run("mount", ["-t", "tmpfs", "-o", options, "tmpfs", point]);
        if (result.ExitCode != 0) return null;
        mounts.Add(point);
        return point;
    }

    [Fact]
    public void AFullDiskAndAReadOnlyDiskAreOneLineErrorsWithNothingLeftBehind()
    {
        var model = Reference.MakeCheckpoint(dir.Sub("model"), TinyConfigs.Llama(4, 2), "f32");
        var full = Mount("full", "size=48k");
        if (full is null) Assert.Skip("cannot mount a tmpfs here (it needs root)");
        var result = Support.Cli.Run("convert", model, "-o", Path.Combine(full, "out"), "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "4");
        Support.Cli.AssertBadInput(result, "the disk is full");
        Assert.DoesNotContain(Directory.GetFileSystemEntries(full), e => !Path.GetFileName(e).EndsWith(".lock", StringComparison.Ordinal));

        var readOnly = Mount("read-only", "ro,size=1m")!;
        result = Support.Cli.Run("convert", model, "-o", Path.Combine(readOnly, "out"), "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "4");
        Support.Cli.AssertBadInput(result, "Read-only file system");
    }

    public void Dispose()
    {
        foreach (var point in mounts) ProcessRunner.Run("umount", [point]);
        dir.Dispose();
    }
}
