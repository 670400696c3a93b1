using System.Text.Json;

namespace Mha2Mla.Cli;

/// <summary>Writes the one JSON value a command prints with --json, in <see cref="JsonFormat"/>.</summary>
public static class JsonOutput
{
    public static void Write(object value)
    {
        Console.Out.WriteLine(JsonSerializer.Serialize(value, value.GetType(), JsonFormat.Options));
        Console.Out.Flush();
    }
}
