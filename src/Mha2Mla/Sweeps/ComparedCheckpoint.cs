using Mha2Mla.Evaluation;

namespace Mha2Mla.Sweeps;

/// <summary>
/// A checkpoint made elsewhere, shown beside a sweep's points (--compare): a DeepSeek-V3 model from
/// another converter (TransMLA), a point fine-tuned by scripts/recipes/fsdp, any model of the same
/// vocabulary. It is evaluated on the sweep's held-out windows (the sweep model's --seq-len) and
/// placed by its own KV cache against the sweep model's, so it lands on the same axes as the grid.
/// </summary>
public sealed record ComparedCheckpoint(string Name, string Directory, ModelConfig Config)
{
    /// <summary>The --compare list checked before any work: each a checkpoint with the sweep model's vocabulary, named compare-&lt;folder&gt; (numbered where two folders share a name).</summary>
    public static IReadOnlyList<ComparedCheckpoint> Resolve(IReadOnlyList<string> checkpoints, ModelConfig original, string originalDirectory, bool evaluates)
    {
        if (checkpoints.Count > 0 && !evaluates)
            throw new InvalidInputException("--compare places each checkpoint by its perplexity on --eval-data; give --eval-data");
        var result = new List<ComparedCheckpoint>();
        foreach (var given in checkpoints)
        {
            var (directory, config) = Checkpoint.ReadConfig(given);
            if (config.VocabSize != original.VocabSize)
                throw new InvalidInputException($"--compare {given}: its vocabulary has {config.VocabSize} tokens, the sweep model's {original.VocabSize}; perplexities over different vocabularies do not compare");
            if (!SameFile(Path.Combine(directory, "tokenizer.json"), Path.Combine(originalDirectory, "tokenizer.json")))
                Diagnostics.Warnings.Emit($"--compare {given}: its tokenizer.json differs from the sweep model's; text is tokenized by each model's own, so its perplexity compares only if the two tokenize alike");
            var name = "compare-" + Path.GetFileName(directory);
            var taken = result.Count(c => c.Name == name || c.Name.StartsWith(name + "-", StringComparison.Ordinal));
            result.Add(new ComparedCheckpoint(taken == 0 ? name : $"{name}-{taken + 1}", directory, config));
        }
        return result;
    }

    /// <summary>The row: its KV figures against <paramref name="original"/>'s cache, its perplexity on <paramref name="evaluation"/>.</summary>
    public SweepResult Evaluate(ModelConfig original, DataOptions evaluation, Device device, ScalarType? computeType, double? originalPerplexity, Action<string>? log)
    {
        using var plan = EvaluationJob.Plan(new EvaluationOptions
        {
            Model = Directory, Data = evaluation with { SeqLen = evaluation.Resolve(original).SeqLen }, Device = device, ComputeType = computeType,
        });
        var evaluated = plan.Run();
        log?.Invoke($"{Name}: perplexity {evaluated.Perplexity:F4} over {evaluated.Tokens} tokens");
        var mla = Config.Mla;
        var elements = Config.KvCacheElementsPerToken;
        var bytes = elements * plan.Checkpoint.Weights.OutputType().ElementSize();
        var latent = mla?.LatentDims.Distinct().Count() == 1 ? mla.LatentDims[0] : (int?)null;
        return new SweepResult(Name, "compared", null, null, mla?.RopePairs ?? Config.HeadDim / 2, false, Config.ModelType, false, latent, null,
            mla?.LatentDims.Average() ?? 0, elements, bytes, 100.0 * (1 - (double)elements / original.KvCacheElementsPerToken),
            originalPerplexity, evaluated.Perplexity, null, evaluated.Seconds);
    }

    private static bool SameFile(string a, string b) =>
        File.Exists(a) == File.Exists(b) && (!File.Exists(a) || File.ReadAllBytes(a).AsSpan().SequenceEqual(File.ReadAllBytes(b)));
}
