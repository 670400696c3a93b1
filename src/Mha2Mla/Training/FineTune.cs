using Mha2Mla.Diagnostics;
using Mha2Mla.Tokenization;

namespace Mha2Mla.Training;

/// <summary>Where a fine-tune's sequences come from: the data, and what turns text into ids for this model.</summary>
public sealed record TrainingData(DataOptions Data, Func<Tokenizer>? Tokenizer, int VocabSize);

/// <summary>
/// One fine-tune of a model in memory, as `train` and `convert --steps` both run it: reproducible
/// batches (the data shuffled with the run's seed), the <see cref="Trainer"/>, metrics.jsonl and
/// resumable checkpoints in <paramref name="workDirectory"/> (<paramref name="run"/>: the in-place OUT it is, created at the first write). The model's weights are updated in
/// place; writing the result is the caller's.
/// </summary>
public static class FineTune
{
    /// <param name="data">Data options resolved for the model (<see cref="DataOptions.Resolve"/>).</param>
    /// <param name="options">Options resolved for the model's device (<see cref="TrainingOptions.Resolve"/>).</param>
    /// <param name="startedFrom">What the run started from (a checkpoint path, or --init CONFIG), checked on resume.</param>
    public static TrainingResult Run(LlamaModel model, TrainingData data, TrainingOptions options, string workDirectory,
        CheckpointFiles files, bool resume = false, Action<StepMetrics>? onStep = null, string startedFrom = "", OutputDirectory? run = null)
    {
        Runtime.KeepFreedBuffersForReuse();   // every step repeats the last one's allocations (a streaming convert that fine-tunes switches here)
        var sequences = data.Data with { Seed = options.Seed };
        var batches = new BatchStream(sequences, data.Tokenizer, data.VocabSize, options.MicroBatch, model.Device);
        return new Trainer(model, batches, options, workDirectory, files) { OnStep = onStep, StartedFrom = startedFrom, Output = run }.Run(resume);
    }
}
