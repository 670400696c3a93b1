namespace Mha2Mla.Storage;

/// <summary>
/// Every path the user named as an input on this run — the model, data, calibration and eval
/// files, the recipe, prompts — however it reached us (command line or recipe). No output may
/// replace one or lie inside one (<see cref="OutputDirectory"/>): `--overwrite` would otherwise
/// delete a recipe or a data file kept in OUT.
/// </summary>
public static class NamedInputs
{
    private static readonly List<string> Paths = [];

    public static void Add(string? path)
    {
        if (string.IsNullOrWhiteSpace(path)) return;
        lock (Paths) Paths.Add(path);
    }

    internal static IReadOnlyList<string> All
    {
        get { lock (Paths) return [.. Paths]; }
    }

    /// <summary>For tests: forget what an earlier in-process run named.</summary>
    public static void Clear()
    {
        lock (Paths) Paths.Clear();
    }
}
