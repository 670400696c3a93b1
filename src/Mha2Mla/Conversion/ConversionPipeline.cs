using Mha2Mla.Checkpoints;
using Mha2Mla.Data;
using Mha2Mla.Evaluation;
using Mha2Mla.Models;
using Mha2Mla.Reports;
using Mha2Mla.Torch;
using Mha2Mla.Training;

namespace Mha2Mla.Conversion;

/// <summary>
/// `mha2mla convert` end to end: perplexity of the original, layer-by-layer conversion, perplexity
/// before fine-tune, the recovery fine-tune, perplexity after it, and the report. Everything is
/// built in a temporary sibling of OUT and renamed into place at the very end, so a failed or
/// interrupted conversion leaves no OUT behind.
/// </summary>
public sealed class ConversionPipeline(ConversionJob job)
{
    public Action<string>? Log { get; init; }
    public Action<StepMetrics>? OnStep { get; init; }

    public ConversionReport Run()
    {
        var output = Path.GetFullPath(job.Output);
        if (Directory.Exists(output) && !job.Overwrite)
            throw new InvalidInputException($"{job.Output} already exists; pass --overwrite to replace it");
        if (File.Exists(output)) throw new InvalidInputException($"{job.Output} is a file; -o names the output directory");
        var parent = Path.GetDirectoryName(output)!;
        Directory.CreateDirectory(parent);
        var temporary = Path.Combine(parent, $".{Path.GetFileName(output)}.partial-{Environment.ProcessId}");
        if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        Directory.CreateDirectory(temporary);
        try
        {
            var report = Build(temporary, output);
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
            Directory.Move(temporary, output);
            return report;
        }
        catch
        {
            Directory.Delete(temporary, recursive: true);
            throw;
        }
    }

    private ConversionReport Build(string temporary, string output)
    {
        var meter = new StageMeter();
        using var source = Checkpoint.Open(job.Model);
        var config = source.Config;
        job.Settings.Validate(config);
        if (job.FineTune.Steps < 0) throw new InvalidInputException($"--steps must not be negative, not {job.FineTune.Steps}");
        if (job.FineTune.Steps > 0) job.FineTune.Validate();
        if (job.FineTune.Steps > 0 && job.Training is null)
            throw new InvalidInputException("--steps > 0 fine-tunes the converted model and needs --train-data (or pass --steps 0)");
        var calibration = job.Calibration is null ? null : Read(job.Calibration, source);
        var evaluation = job.Evaluation is null ? null : Read(job.Evaluation, source);

        double? original = evaluation is null ? null : meter.Measure("eval_original", () => Evaluate(source.Weights, config, evaluation, "original"));
        Log?.Invoke($"Converting {config.NumHiddenLayers} layers ({RopeSelection.Name(job.Settings.Strategy)}, r = {job.Settings.RopePairs}, d_kv = {job.Settings.KvRank}, {job.Settings.Svd.ToString().ToLowerInvariant()} SVD)");
        var converted = meter.Measure("convert", () => Converter.Convert(source, job.Settings, calibration, temporary,
            (done, total) => Log?.Invoke($"layer {done}/{total} converted")));
        foreach (var name in ModelSource.CompanionFiles.Where(n => n != "config.json"))
            if (File.Exists(Path.Combine(source.Directory, name))) File.Copy(Path.Combine(source.Directory, name), Path.Combine(temporary, name));

        double? before = null, after = null;
        using (var mla = Checkpoint.Open(temporary))
            if (evaluation is not null) before = meter.Measure("eval_converted", () => Evaluate(mla.Weights, mla.Config, evaluation, "converted"));
        if (job.FineTune.Steps > 0)
        {
            meter.Measure("finetune", () => FineTune(temporary, source));
            if (evaluation is not null)
                using (var tuned = Checkpoint.Open(temporary))
                    after = meter.Measure("eval_finetuned", () => Evaluate(tuned.Weights, tuned.Config, evaluation, "fine-tuned"));
        }

        var cacheType = source.Weights.OutputType();
        var report = new ConversionReport
        {
            Model = source.Directory,
            Output = output,
            Settings = new
            {
                rope_strategy = RopeSelection.Name(job.Settings.Strategy),
                rope_pairs = job.Settings.RopePairs,
                kv_rank = job.Settings.KvRank,
                latent_dim = converted.Mla.LatentDim,
                svd = converted.Mla.Svd,
                calibration = job.Calibration,
                evaluation = job.Evaluation,
                training = job.Training,
                fine_tune = job.FineTune,
            },
            Rope = new ConversionReport.RopeReport(converted.Mla.Pairs),
            KvCache = ConversionReport.KvCacheOf(config, converted.Mla, cacheType),
            Perplexity = new ConversionReport.PerplexityReport(original, before, after),
            Stages = meter.Stages,
        };
        report.Write(temporary);
        return report;
    }

    private static List<int[]> Read(DataOptions data, Checkpoint source) =>
        SequenceReader.Read(data, source.LoadTokenizer, source.Config.VocabSize).ToList();

    private double Evaluate(WeightStore weights, ModelConfig config, List<int[]> sequences, string what)
    {
        using var model = LlamaModel.Load(weights, config, Device.CPU);
        var result = Perplexity.Evaluate(model, sequences);
        Log?.Invoke($"perplexity ({what}): {result.Perplexity:F4} over {result.Tokens} tokens");
        return result.Perplexity;
    }

    // Fine-tunes the converted model in place: its shards are replaced by the tuned weights.
    private void FineTune(string directory, Checkpoint source)
    {
        var diskType = source.Weights.OutputType();
        LlamaModel model;
        using (var converted = Checkpoint.Open(directory))
            model = LlamaModel.Load(converted.Weights, converted.Config, Device.CPU);
        using (model)
        {
            var work = Path.Combine(directory, "finetune");
            var batches = new BatchStream(job.Training! with { Seed = job.FineTune.Seed }, source.LoadTokenizer, source.Config.VocabSize, job.FineTune.MicroBatch, Device.CPU);
            var result = new Trainer(model, batches, job.FineTune, work) { OnStep = OnStep }.Run(resume: false);
            Log?.Invoke($"fine-tune: loss {result.FirstLoss:F4} -> {result.FinalLoss:F4} over {result.Steps} steps");
            foreach (var shard in Directory.GetFiles(directory, "model-*.safetensors").Append(Path.Combine(directory, "model.safetensors.index.json")))
                File.Delete(shard);
            WeightsWriter.Write(directory, model.NamedParameters().ToList(), diskType);
            File.Move(Path.Combine(work, "metrics.jsonl"), Path.Combine(directory, "finetune_metrics.jsonl"));
            Directory.Delete(work, recursive: true);
        }
    }
}
