namespace Mha2Mla.Tests.Support;

/// <summary>Runs the real mha2mla CLI (the built mha2mla.dll beside the tests) as a separate process.</summary>
public static class Cli
{
    public static ProcessResult Run(params string[] args) =>
        ProcessRunner.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "mha2mla.dll"), .. args]);

    /// <summary>For runs that take minutes on a busy 2-core machine (the default limit is 5).</summary>
    public static ProcessResult RunFor(TimeSpan timeout, params string[] args) =>
        ProcessRunner.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "mha2mla.dll"), .. args], timeout);

    public static ProcessResult RunWith(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        ProcessRunner.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "mha2mla.dll"), .. args], environment: environment);

    /// <summary>Asserts exit code 2 and a single non-empty line on stderr, starting <paramref name="prefix"/>, that contains <paramref name="fragment"/>.</summary>
    /// <param name="prefix">How the program's error line starts (the FSDP recipe's: "finetune.py: error: ").</param>
    public static ProcessResult AssertBadInput(ProcessResult result, string fragment, string prefix = "mha2mla: ")
    {
        Assert.True(result.ExitCode == 2, $"expected exit code 2, got {result}");
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.StartsWith('[')) // Serilog lines ("[12:00:00 INF] ...") are not the error
            .ToArray();
        Assert.True(lines.Length == 1, $"expected one error line, got {result}");
        Assert.StartsWith(prefix, lines[0]);
        Assert.Contains(fragment, lines[0]);
        Assert.DoesNotContain("   at ", result.Stderr); // no stack trace without --verbose
        return result;
    }
}
