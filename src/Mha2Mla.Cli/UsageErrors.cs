using System.Text.RegularExpressions;
using Mha2Mla.Torch;

namespace Mha2Mla.Cli;

/// <summary>
/// Error text as a user should read it: one line, in their words. Parser messages lose their
/// line breaks and .NET type names; faults of the machine rather than of mha2mla (a full or
/// read-only disk, a permission, a missing file, memory) become input errors, exit 2.
/// </summary>
public static partial class UsageErrors
{
    [GeneratedRegex(@"'System\.Nullable`1\[System\.(\w+)\]'|'System\.(\w+)'")]
    private static partial Regex DotNetType();

    public static string OneLine(string message)
    {
        var text = DotNetType().Replace(message, m => Friendly(m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value));
        return Regex.Replace(text, @"\s*\n\s*", " ").Trim();
    }

    private static string Friendly(string type) => type switch
    {
        "Int32" or "Int64" => "an integer",
        "Double" or "Single" => "a number",
        "Boolean" => "true or false",
        _ => "text",
    };

    /// <summary>The one-line message for a fault of the environment, or null for one of ours.</summary>
    public static string? FromEnvironment(Exception e) => e switch
    {
        UnauthorizedAccessException => $"{Line(e)}: permission denied; check the file's and the directory's permissions",
        FileNotFoundException or DirectoryNotFoundException => Line(e),
        IOException when e.HResult == 28 || e.Message.Contains("No space left", StringComparison.Ordinal) =>
            $"{Line(e)} (the disk is full; free space or write elsewhere)",
        IOException when e.Message.Contains("Read-only file system", StringComparison.Ordinal) => $"{Line(e)} (write elsewhere)",
        IOException => Line(e),
        TorchException { IsOutOfMemory: true } =>
            $"not enough memory ({Line(e)}); lower --seq-len or --batch, or use a machine with more memory",
        OutOfMemoryException => "not enough memory; lower --seq-len or --batch, or use a machine with more memory",
        _ => null,
    };

    private static string Line(Exception e) => e.Message.Split('\n')[0].Trim();
}
