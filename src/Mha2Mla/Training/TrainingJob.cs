using Mha2Mla.Tokenization;

namespace Mha2Mla.Training;

/// <summary>
/// `mha2mla train` as a library call: fine-tune a checkpoint (or train a fresh initialization of
/// a config) on data and write the result, in the same layout as every other output, into OUT
/// beside metrics.jsonl and the resumable checkpoints.
/// </summary>
public sealed record TrainingJob
{
    /// <summary>A checkpoint directory or "demo"; exactly one of this and <see cref="InitConfig"/>.</summary>
    public string? Model { get; init; }
    /// <summary>A config.json to initialize randomly (Hugging Face's Llama initialization, seeded).</summary>
    public string? InitConfig { get; init; }
    /// <summary>With <see cref="InitConfig"/>: the tokenizer.json for text data, copied into OUT.</summary>
    public string? Tokenizer { get; init; }
    public required string Output { get; init; }
    public required DataOptions Data { get; init; }
    public TrainingOptions Options { get; init; } = new();
    /// <summary>Continue the run in OUT from its newest resumable checkpoint.</summary>
    public bool Resume { get; init; }
    /// <summary>Start afresh in an existing OUT.</summary>
    public bool Overwrite { get; init; }
    /// <summary>The dtype of the written weights; null: the input's (bf16 for an initialization).</summary>
    public ScalarType? SaveDType { get; init; }
    public Device Device { get; init; } = Device.CPU;

    public Action<string>? Log { get; init; }
    public Action<StepMetrics>? OnStep { get; init; }

    public TrainingResult Run()
    {
        var options = Options.Resolve(Device);
        if ((Model is null) == (InitConfig is null))
            throw new InvalidInputException("train needs exactly one of MODEL or --init CONFIG.json");
        var modelDirectory = Model is null ? null : ModelSource.Resolve(Model);
        using var output = OutputDirectory.InPlaceRun(Output, [modelDirectory ?? "", InitConfig ?? "", Tokenizer ?? ""]);
        output.Prepare(Overwrite, Resume);

        using var source = OpenSource();
        var model = source.Model;
        var data = new TrainingData(Data.Resolve(model.Config), source.Tokenizer, model.Config.VocabSize);
        Log?.Invoke($"Training {Trainer.TrainableParameters(model, options.FreezeNonAttention).Sum(p => p.Param.numel()):N0} parameters for {options.Steps} steps " +
                    $"(batch {options.MicroBatch} x {options.GradAccumulation}, seq-len {data.Data.SeqLen}) on {Device}, " +
                    $"computing in {ComputePrecision.Name(options.ResolvedComputeType)}");
        var identity = modelDirectory ?? $"--init {Path.GetFullPath(InitConfig!)}";
        var result = FineTune.Run(model, data, options, output.Path, source.Files, Resume, OnStep, startedFrom: identity, run: output);

        var dtype = SaveDType ?? source.StorageType;
        output.BeginWriting();
        model.Save(output.Path, dtype, source.Files);
        output.Commit();
        Log?.Invoke($"Wrote {Output} ({SafetensorsDType.Name(dtype)}); loss {result.FirstLoss:F4} -> {result.FinalLoss:F4}, {result.TokensPerSecond:F0} tokens/s");
        return result with { Output = Output };
    }

    /// <summary>Where the starting weights, config and tokenizer come from.</summary>
    private sealed record Source(LlamaModel Model, Func<Tokenizer>? Tokenizer, ScalarType StorageType, CheckpointFiles Files) : IDisposable
    {
        public void Dispose() => Model.Dispose();
    }

    private Source OpenSource()
    {
        if (InitConfig is not null)
        {
            var config = ModelConfigReader.Read(InitConfig);
            if (Tokenizer is not null) UserFiles.RequireRegular(Tokenizer, $"--tokenizer {Tokenizer}");
            Func<Tokenizer>? tokenizer = Tokenizer is null ? null : () => TokenizerReader.Read(Tokenizer);
            var companions = Tokenizer is null ? [] : new[] { new Companion(Tokenizer, "tokenizer.json") };
            var files = new CheckpointFiles(UserFiles.ReadJsonObject(InitConfig, $"--init {InitConfig}"), companions);
            return new Source(LlamaModel.Initialize(config, Device, (ulong)Options.Seed), tokenizer, ScalarType.BFloat16, files);
        }
        using var checkpoint = Checkpoint.Open(Model!);
        var hasTokenizer = File.Exists(Path.Combine(checkpoint.Directory, "tokenizer.json"));
        return new Source(LlamaModel.Load(checkpoint.Weights, checkpoint.Config, Device),
            hasTokenizer ? checkpoint.LoadTokenizer : null, checkpoint.Weights.OutputType(), checkpoint.Files());
    }
}
