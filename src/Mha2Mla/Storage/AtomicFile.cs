namespace Mha2Mla.Storage;

/// <summary>Small files written under a temporary name and renamed into place: never seen half written.</summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string contents)
    {
        var temporary = $"{path}.tmp-{Environment.ProcessId}";
        File.WriteAllText(temporary, contents);
        File.Move(temporary, path, overwrite: true);
    }
}
