namespace Mha2Mla.Diagnostics;

/// <summary>
/// For tests of crash safety only: MHA2MLA_TEST_CRASH_AT=NAME makes the process die at the named
/// point as abruptly as kill -9 would (Environment.FailFast: no finally blocks, no cleanup).
/// </summary>
public static class CrashPoints
{
    private static readonly string? Armed = Environment.GetEnvironmentVariable("MHA2MLA_TEST_CRASH_AT");

    public static void Here(string point)
    {
        if (Armed == point) Environment.FailFast($"test: crashing at '{point}'");
    }
}
