namespace Mha2Mla.Diagnostics;

/// <summary>
/// Where the library's warnings go: things it did that a user should know of but that are no
/// error (two config fields that disagree, say). The CLI routes them to its log.
/// </summary>
public static class Warnings
{
    public static Action<string> Handler { get; set; } = message => Console.Error.WriteLine($"warning: {message}");

    public static void Emit(string message) => Handler(message);
}
