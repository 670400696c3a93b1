using System.Text.RegularExpressions;

namespace Mha2Mla.Storage;

/// <summary>
/// Finds a model named by its hub id (<c>org/name</c> or <c>org/name@revision</c>) in the local
/// Hugging Face hub cache, laid out as huggingface_hub writes it:
/// <c>models--org--name/refs/REVISION</c> holds a commit hash, and
/// <c>models--org--name/snapshots/HASH/</c> holds the files (symbolic links into blobs/).
/// The cache is HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub. Never the network.
/// </summary>
public static partial class HubCache
{
    [GeneratedRegex(@"^(?<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(@(?<revision>[\w.\-/]+))?$")]
    private static partial Regex HubId();

    [GeneratedRegex(@"^[0-9a-fA-F]{7,64}$")]
    private static partial Regex CommitHash();

    public static bool LooksLikeHubId(string model) => HubId().IsMatch(model);

    public static string Root()
    {
        if (Environment.GetEnvironmentVariable("HF_HUB_CACHE") is { Length: > 0 } cache) return cache;
        if (Environment.GetEnvironmentVariable("HF_HOME") is { Length: > 0 } home) return Path.Combine(home, "hub");
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "huggingface", "hub");
    }

    /// <summary>The snapshot directory of <paramref name="model"/>, or an input error that says how to fetch it.</summary>
    public static string Resolve(string model)
    {
        var match = HubId().Match(model);
        var repo = match.Groups["repo"].Value;
        var revision = match.Groups["revision"].Success ? match.Groups["revision"].Value : "main";
        var root = Root();
        var repoDirectory = Path.Combine(root, "models--" + repo.Replace("/", "--"));
        if (!Directory.Exists(repoDirectory))
            throw new InvalidInputException($"{model}: no such directory, and no model '{repo}' in the Hugging Face hub cache ({root}); " +
                                            $"fetch it with `huggingface-cli download {repo}` (or set HF_HUB_CACHE / HF_HOME), or give a checkpoint directory");

        // A revision names a branch, tag or commit inside this repository's cache, never a path out of it.
        if (revision.Split('/').Any(part => part is "" or "." or ".."))
            throw new InvalidInputException($"{model}: '{revision}' is not a revision name (a branch, tag or commit hash); it may not contain '.', '..' or empty path segments");
        var reference = Path.Combine(repoDirectory, "refs", revision);
        var named = File.Exists(reference);   // a branch or tag: its file names the commit
        var commit = named ? UserFiles.ReadText(reference, limit: 4096).Trim() : revision;
        if (named && !CommitHash().IsMatch(commit))
            throw new InvalidInputException($"{model}: {reference} holds '{commit}', not a commit hash; the hub cache is damaged: fetch the model again");
        var snapshot = Path.Combine(repoDirectory, "snapshots", commit);
        if (Directory.Exists(snapshot)) return snapshot;
        if (named)
            throw new InvalidInputException($"{model}: refs/{revision} names commit {commit}, but the cache holds no snapshot of it; " +
                                            $"fetch it with `huggingface-cli download {repo} --revision {revision}`");
        var known = Directory.Exists(Path.Combine(repoDirectory, "refs"))
            ? Directory.GetFiles(Path.Combine(repoDirectory, "refs"), "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Path.Combine(repoDirectory, "refs"), f)).ToList()
            : [];
        var snapshots = Directory.Exists(Path.Combine(repoDirectory, "snapshots")) ? Directory.GetDirectories(Path.Combine(repoDirectory, "snapshots")).Length : 0;
        if (revision == "main" && known.Count == 0)
            throw new InvalidInputException($"{model}: the hub cache has no snapshot of '{repo}' at main ({snapshots} snapshot(s), no refs); " +
                                            $"fetch it with `huggingface-cli download {repo}`, or name a commit as {repo}@HASH");
        throw new InvalidInputException($"{model}: the hub cache has no revision '{revision}' of '{repo}' (refs: {(known.Count == 0 ? "none" : string.Join(", ", known))}); " +
                                        $"fetch it with `huggingface-cli download {repo} --revision {revision}`");
    }
}
