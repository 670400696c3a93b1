namespace Mha2Mla.Tests.EndToEnd;

/// <summary>
/// scripts/mha2mla, the launcher CI jobs call many times at once from one checkout: after a
/// source change, concurrent callers build once (under a lock) and all start the built CLI.
/// Runs on a copy of the sources, so the checkout under test is never rebuilt.
/// </summary>
public class LauncherTests : IDisposable
{
    private readonly TempDir dir = new();

    [Fact]
    public async Task ConcurrentCallsAfterASourceChangeAllSucceed()
    {
        var copy = dir.Sub("repo");
        foreach (var file in new[] { "Directory.Build.props", "Mha2Mla.sln" }) File.Copy(Path.Combine(RepoPaths.Root, file), Path.Combine(copy, file));
        CopyTree(Path.Combine(RepoPaths.Root, "src"), Path.Combine(copy, "src"), skip: ["bin", "obj", "build"]);
        CopyTree(Path.Combine(RepoPaths.Root, "models"), Path.Combine(copy, "models"));
        Directory.CreateDirectory(Path.Combine(copy, "scripts"));
        foreach (var script in new[] { "mha2mla", "libtorch-dir.sh" })   // the launcher, and the build's choice of libtorch
            File.Copy(Path.Combine(RepoPaths.Root, "scripts", script), Path.Combine(copy, "scripts", script));
        // The native library as built for this checkout, newer than its sources, so only C# builds here.
        var native = Directory.CreateDirectory(Path.Combine(copy, "artifacts", "native")).FullName;
        File.Copy(Path.Combine(AppContext.BaseDirectory, "libmha2mla_native.so"), Path.Combine(native, "libmha2mla_native.so"));
        File.SetLastWriteTimeUtc(Path.Combine(native, "libmha2mla_native.so"), DateTime.UtcNow.AddMinutes(1));
        File.AppendAllText(Path.Combine(copy, "src", "Mha2Mla.Cli", "Program.cs"), "\n// touched by LauncherTests\n");

        var launcher = Path.Combine(copy, "scripts", "mha2mla");
        var calls = Enumerable.Range(0, 2)
            .Select(_ => Task.Run(() => ProcessRunner.Run("bash", [launcher, "--help"], TimeSpan.FromMinutes(8))))
            .ToArray();
        foreach (var result in await Task.WhenAll(calls))
        {
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Contains("convert", result.Stdout);
        }
        Assert.True(File.Exists(Path.Combine(copy, "artifacts", "cli", ".built")));
        Assert.False(File.Exists(Path.Combine(copy, "artifacts", "cli", ".building")));
    }

    private static void CopyTree(string from, string to, string[]? skip = null)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var sub in Directory.GetDirectories(from))
            if (skip is null || !skip.Contains(Path.GetFileName(sub))) CopyTree(sub, Path.Combine(to, Path.GetFileName(sub)), skip);
    }

    public void Dispose() => dir.Dispose();
}
