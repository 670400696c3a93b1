namespace Mha2Mla;

/// <summary>
/// Files reached through symbolic links, as every model in a Hugging Face hub cache is
/// (snapshots/REV/model.safetensors → ../../blobs/SHA). File.Exists says nothing of why a dangling
/// link is missing. Links are followed by the kernel (<see cref="UserFiles"/> stats what a name
/// leads to), never by combining paths: a relative link inside a linked directory resolves
/// against the real directory, which path arithmetic gets wrong.
/// </summary>
public static class FileLinks
{
    /// <summary>Why <paramref name="path"/> cannot be read as a file: "no such file", or the dangling link it is.</summary>
    public static string Missing(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is { } target ? $"is a dangling symbolic link (to {target}, which does not exist); fetch the file again" : "no such file";
    }
}
