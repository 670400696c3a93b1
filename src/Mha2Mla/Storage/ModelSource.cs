namespace Mha2Mla.Storage;

/// <summary>
/// Resolves a MODEL argument: a checkpoint directory (links followed), a hub id
/// <c>org/name[@revision]</c> found in the local hub cache (<see cref="HubCache"/>), or the word
/// <c>demo</c> (MQA) or <c>demo-gqa</c> (GQA) for a bundled demo model (models/NAME, shipped
/// beside the CLI; MHA2MLA_DEMO_DIR overrides where <c>demo</c> is).
/// </summary>
public static class ModelSource
{
    public const string DemoName = "demo";
    public const string GqaDemoName = "demo-gqa";

    public static string Resolve(string model)
    {
        if (model is not (DemoName or GqaDemoName))
            return !Directory.Exists(model) && !File.Exists(model) && HubCache.LooksLikeHubId(model) ? HubCache.Resolve(model) : model;
        var candidates = new[]
        {
            model == DemoName ? Environment.GetEnvironmentVariable("MHA2MLA_DEMO_DIR") : null,
            Path.Combine(AppContext.BaseDirectory, "models", model),
        };
        foreach (var candidate in candidates)
            if (!string.IsNullOrEmpty(candidate) && File.Exists(Path.Combine(candidate, "config.json"))) return candidate;
        throw new InvalidInputException($"the {model} model is not bundled with this build (models/{model} is missing); rebuild from a full checkout or run scripts/make-demo-model.sh{(model == GqaDemoName ? " --gqa" : "")}");
    }

    /// <summary>Files that travel with a model beside config.json: its tokenizer and generation settings.</summary>
    public static readonly string[] CompanionNames =
        ["generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];

    /// <summary>The companion files <paramref name="directory"/> has, to copy into an output (each a regular file: copying a FIFO would never end).</summary>
    public static IReadOnlyList<Companion> Companions(string directory)
    {
        var present = CompanionNames.Where(n => File.Exists(Path.Combine(directory, n))).Select(n => new Companion(Path.Combine(directory, n), n)).ToList();
        foreach (var companion in present) UserFiles.RequireRegular(companion.Source);
        return present;
    }
}
