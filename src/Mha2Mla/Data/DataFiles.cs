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

    /// <summary>
    /// What the files of <paramref name="spec"/> hold: SHA-256 over each file's name, length and
    /// bytes. A resumed run or sweep compares it, so data edited in place (same path, same size)
    /// is noticed instead of mixing two datasets in one result. Reads every byte (~1 GB/s).
    /// </summary>
    public static string Fingerprint(string spec)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        foreach (var file in Expand(spec))
        {
            using var stream = UserFiles.OpenRead(file);
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes($"{Path.GetFileName(file)}\0{stream.Length}\0"));
            int read;
            while ((read = stream.Read(buffer)) > 0) hash.AppendData(buffer, 0, read);
        }
        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
