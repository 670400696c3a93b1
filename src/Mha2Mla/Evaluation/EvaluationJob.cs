namespace Mha2Mla.Evaluation;

/// <summary>What `mha2mla eval` was asked: a model, its data, where and how to compute.</summary>
public sealed record EvaluationOptions
{
    public required string Model { get; init; }
    public required DataOptions Data { get; init; }
    public Device Device { get; init; } = Device.CPU;
    /// <summary>null: <see cref="ComputePrecision.DefaultFor"/> the device.</summary>
    public ScalarType? ComputeType { get; init; }
    /// <summary>Attend through a KV cache stored this way, as decoding would; null: exact.</summary>
    public CacheFormat? Cache { get; init; }
}

/// <summary>What `mha2mla eval --json` prints.</summary>
public sealed record EvaluationResult(double Perplexity, long Tokens, int Sequences, double MeanLoss, double Seconds, double TokensPerSecond,
    string Model, string Data, string Device, string Dtype, string KvCacheDtype);

/// <summary>
/// `mha2mla eval` as a job: <see cref="Plan"/> opens the checkpoint, reads the data and resolves
/// every default (so the caller knows how many tokens a progress bar covers), then
/// <see cref="EvaluationPlan.Run"/> measures the perplexity.
/// </summary>
public static class EvaluationJob
{
    public static EvaluationPlan Plan(EvaluationOptions options)
    {
        var checkpoint = Checkpoint.Open(options.Model);
        try
        {
            var config = checkpoint.Config;
            var data = options.Data.Resolve(config);
            var sequences = checkpoint.ReadSequences(data);
            var longest = sequences.Count > 0 ? sequences.Max(s => s.Length) : 0;
            if (longest > config.MaxPositionEmbeddings)
                Diagnostics.Warnings.Emit($"The longest sequence has {longest} tokens, more than the model's max_position_embeddings ({config.MaxPositionEmbeddings}); positions past it are extrapolated");
            return new EvaluationPlan(checkpoint, options with { Data = data, ComputeType = ComputePrecision.Resolve(options.ComputeType, options.Device) }, sequences);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }
}

/// <summary>An evaluation ready to run: the open checkpoint, its sequences and every setting resolved.</summary>
public sealed class EvaluationPlan(Checkpoint checkpoint, EvaluationOptions options, IReadOnlyList<int[]> sequences) : IDisposable
{
    public Checkpoint Checkpoint { get; } = checkpoint;
    public EvaluationOptions Options { get; } = options;
    public ScalarType ComputeType => Options.ComputeType!.Value;

    /// <summary>Tokens the evaluation scores: every position after each sequence's first.</summary>
    public long Tokens => sequences.Sum(s => Math.Max(0L, s.Length - 1));

    /// <param name="progress">Tokens scored so far, after each sequence.</param>
    public EvaluationResult Run(Action<long>? progress = null, Action<string>? log = null)
    {
        var config = Checkpoint.Config;
        log?.Invoke($"Loading {Options.Model} ({config.ModelType}, {config.NumHiddenLayers} layers) on {Options.Device} in {ComputePrecision.Name(ComputeType)}");
        using var model = LlamaModel.Load(Checkpoint.Weights, Checkpoint.Config, Options.Device, ComputeType);
        var result = Perplexity.Evaluate(model, sequences, (_, tokens) => progress?.Invoke(tokens), Options.Cache);
        return new EvaluationResult(result.Perplexity, result.Tokens, result.Sequences, result.MeanLoss, result.Seconds, result.TokensPerSecond,
            Options.Model, Options.Data.Path, Options.Device.ToString(), ComputePrecision.Name(ComputeType), Options.Cache?.Name ?? "exact");
    }

    public void Dispose() => Checkpoint.Dispose();
}
