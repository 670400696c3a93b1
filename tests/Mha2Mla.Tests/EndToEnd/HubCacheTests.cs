namespace Mha2Mla.Tests.EndToEnd;

/// <summary>
/// MODEL as a Hugging Face user has it: a hub cache laid out as huggingface_hub writes it
/// (blobs, a snapshot of symbolic links into them, refs/main), named by id, by id@revision or by
/// the snapshot path; and directories that are themselves links. Never the network.
/// </summary>
public class HubCacheTests : IDisposable
{
    private readonly TempDir dir = new();

    /// <summary>Moves a checkpoint's files into a fake hub cache and returns the snapshot directory.</summary>
    private string MakeHubCache(string cacheRoot, string repoId, string source, string commit = "0123456789abcdef0123456789abcdef01234567")
    {
        var repo = Path.Combine(cacheRoot, "models--" + repoId.Replace("/", "--"));
        var blobs = Directory.CreateDirectory(Path.Combine(repo, "blobs")).FullName;
        var snapshot = Directory.CreateDirectory(Path.Combine(repo, "snapshots", commit)).FullName;
        foreach (var file in Directory.GetFiles(source))
        {
            var blob = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(file))).ToLowerInvariant();
            File.Copy(file, Path.Combine(blobs, blob), overwrite: true);
            File.CreateSymbolicLink(Path.Combine(snapshot, Path.GetFileName(file)), Path.Combine("..", "..", "blobs", blob));
        }
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        File.WriteAllText(Path.Combine(repo, "refs", "main"), commit);
        return snapshot;
    }

    private (string Cache, string Snapshot, string Data) Setup()
    {
        var source = Reference.MakeCheckpoint(dir.Sub("source"), TinyConfigs.Llama(4, 2), "bf16", shards: 2);
        var cache = dir.Sub("hub");
        var snapshot = MakeHubCache(cache, "org/tiny", source);
        var data = dir.File("ids.json");
        Reference.Run("ids", data, "--count", "2", "--length", "12", "--vocab", "97", "--seed", "3");
        return (cache, snapshot, data);
    }

    private static ProcessResult Run(string cache, params string[] args) =>
        Support.Cli.RunWith(new Dictionary<string, string> { ["HF_HUB_CACHE"] = cache }, args);

    private static double Perplexity(ProcessResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.Stdout).RootElement.GetProperty("perplexity").GetDouble();
    }

    [Fact]
    public void AHubIdARevisionAndTheSnapshotPathAllNameTheSameModel()
    {
        var (cache, snapshot, data) = Setup();
        var expected = Reference.Perplexity(dir.File("source"), data).Perplexity;
        foreach (var model in new[] { "org/tiny", "org/tiny@main", snapshot })
        {
            var inspect = Run(cache, "inspect", model, "--json");
            Assert.True(inspect.ExitCode == 0, inspect.ToString());
            Assert.Equal(2, JsonDocument.Parse(inspect.Stdout).RootElement.GetProperty("layers").GetInt32());
            Assert.Equal(expected, Perplexity(Run(cache, "eval", model, "--data", data, "--json")), 4);
            var output = dir.File($"mla-{Guid.NewGuid():N}");
            var convert = Run(cache, "convert", model, "-o", output, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "4");
            Assert.True(convert.ExitCode == 0, convert.ToString());
            CheckpointLayout.AssertValid(output, mla: true);
            Assert.DoesNotContain(Directory.GetFiles(output), f => new FileInfo(f).LinkTarget is not null); // copies, not links
        }
    }

    [Fact]
    public void HfHomeAndASymlinkedDirectoryWorkToo()
    {
        var (cache, snapshot, data) = Setup();
        var home = dir.Sub("hf-home");
        Directory.CreateSymbolicLink(Path.Combine(home, "hub"), cache);
        var viaHome = Support.Cli.RunWith(new Dictionary<string, string> { ["HF_HOME"] = home }, "eval", "org/tiny", "--data", data, "--json");
        var linked = Path.Combine(dir.Path, "linked-model");
        Directory.CreateSymbolicLink(linked, snapshot);
        Assert.Equal(Perplexity(viaHome), Perplexity(Support.Cli.Run("eval", linked, "--data", data, "--json")));
    }

    [Fact]
    public void WhatIsNotInTheCacheOrDanglesIsAOneLineError()
    {
        var (cache, snapshot, _) = Setup();
        Support.Cli.AssertBadInput(Run(cache, "inspect", "org/absent"), "huggingface-cli download org/absent");
        Support.Cli.AssertBadInput(Run(cache, "inspect", "org/tiny@v2"), "no revision 'v2'");
        File.Delete(Path.Combine(cache, "models--org--tiny", "refs", "main"));
        Directory.Delete(snapshot, recursive: true);
        Support.Cli.AssertBadInput(Run(cache, "inspect", "org/tiny"), "no snapshot");

        var broken = dir.Sub("dangling");
        var source = Reference.MakeCheckpoint(dir.Sub("source2"), TinyConfigs.Llama(4, 2));
        File.Copy(Path.Combine(source, "config.json"), Path.Combine(broken, "config.json"));
        File.CreateSymbolicLink(Path.Combine(broken, "model.safetensors"), Path.Combine(dir.Path, "gone.safetensors"));
        Support.Cli.AssertBadInput(Support.Cli.Run("inspect", broken), "dangling symbolic link");
    }

    public void Dispose() => dir.Dispose();
}
