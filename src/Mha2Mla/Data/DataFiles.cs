namespace Mha2Mla.Data;

/// <summary>
/// Expands a --data argument into files, in a fixed order: a file; a directory (every data file
/// below it, recursively); or a glob whose last path segment holds * or ?. Sorted by path
/// (ordinal), so the same argument always means the same data in the same order.
/// </summary>
public static class DataFiles
{
    public static readonly string[] Extensions = [".txt", ".jsonl", ".json", ".bin"];

    public static List<string> Expand(string spec)
    {
        if (File.Exists(spec)) return [spec];
        if (Directory.Exists(spec))
        {
            var files = Directory.EnumerateFiles(spec, "*", SearchOption.AllDirectories)
                .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
                .Order(StringComparer.Ordinal).ToList();
            return files.Count > 0 ? files
                : throw new InvalidInputException($"{spec}: the directory holds no data files ({string.Join(", ", Extensions)})");
        }
        var name = Path.GetFileName(spec);
        if (name.IndexOfAny(['*', '?']) >= 0)
        {
            var directory = Path.GetDirectoryName(spec) is { Length: > 0 } d ? d : ".";
            if (!Directory.Exists(directory)) throw new InvalidInputException($"{spec}: no such directory {directory}");
            var matches = Directory.EnumerateFiles(directory, name).Order(StringComparer.Ordinal).ToList();
            return matches.Count > 0 ? matches : throw new InvalidInputException($"{spec}: no file matches");
        }
        throw new InvalidInputException($"{spec}: no such file or directory");
    }
}
