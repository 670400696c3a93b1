using System.Text.Json;
using Mha2Mla.Evaluation;
using Mha2Mla.Training;
using Mha2Mla.Diagnostics;

namespace Mha2Mla.Conversion;

/// <summary>
/// `mha2mla convert` end to end: perplexity of the original, layer-by-layer conversion,
/// perplexity before fine-tune, the recovery fine-tune, perplexity after it, and the report.
/// The stages hand each other the converted model in memory; with nothing to evaluate or
/// fine-tune, each converted layer is written as soon as it exists, so memory stays at one
/// layer. Either way the output is written once, into a temporary sibling of OUT swapped into
/// place at the very end (<see cref="OutputDirectory"/>), so a failed or interrupted conversion
/// leaves OUT as it was.
/// </summary>
public sealed class ConversionPipeline(ConversionJob job)
{
    public Action<string>? Log { get; init; }
    public Action<StepMetrics>? OnStep { get; init; }

    /// <summary>The original model's perplexity on this job's evaluation data, when already measured (a sweep measures it once).</summary>
    public double? OriginalPerplexity { get; init; }

    /// <summary>How the converted model is written: mha2mla's MLA checkpoint unless told (convert --format deepseek-v3).</summary>
    public ModelOutput Format { get; init; } = new MlaOutput();

    /// <summary>Calibration statistics shared with other conversions of this model on this calibration data.</summary>
    public CalibrationCache? Calibration { get; init; }

    public ConversionReport Run()
    {
        var modelDirectory = ModelSource.Resolve(job.Model);
        using var output = OutputDirectory.ForNewResult(job.Output, job.Overwrite, [modelDirectory]);
        var report = Build(modelDirectory, output.WorkDirectory, output.Path);
        output.Commit();
        return report;
    }

    private ConversionReport Build(string modelDirectory, string temporary, string output)
    {
        var meter = new StageMeter(job.Device.type == DeviceType.CUDA ? job.Device : null)
        {
            OutOfMemoryAdvice =
            {
                ["convert"] = "lower --calib-samples or --calib-seq-len (the calibration states stay on the GPU)",
                ["eval_original"] = "lower --seq-len", ["eval_converted"] = "lower --seq-len", ["eval_finetuned"] = "lower --seq-len",
                ["finetune"] = "lower --batch (raise --grad-accum to keep the batch) or --seq-len",
            },
        };
        using var source = Checkpoint.Open(modelDirectory);
        var config = source.Config;
        var plan = job.Plan(config);
        var settings = plan.Settings;
        var calibration = plan.Calibration is null ? null : source.ReadSequences(plan.Calibration);
        var evaluation = plan.Evaluation is null ? null : source.ReadSequences(plan.Evaluation);
        var diskType = job.SaveDType ?? source.Weights.OutputType();

        double? original = OriginalPerplexity, converted = null, finetuned = null;
        if (evaluation is not null && original is null)
            original = meter.Measure("eval_original", () =>
            {
                using var model = LlamaModel.Load(source.Weights, config, job.Device, plan.ComputeType);
                return Evaluate(model, evaluation, "original", plan.ComputeType);
            });

        Log?.Invoke($"Converting {config.NumHiddenLayers} layers ({settings.StrategyName}, r = {settings.RopePairs}, {settings.Width.Description}, {settings.SvdName} SVD)");
        var keepInMemory = evaluation is not null || plan.FineTune.Steps > 0;
        var writer = new CheckpointWriter(temporary, diskType);
        var layers = new List<DecoderLayer>();
        MlaSettings mla;
        ConversionReport.RopeReport rope;
        try
        {
            (mla, rope) = meter.Measure("convert", () => Converter.Convert(source, settings, calibration, (index, layer) =>
            {
                if (keepInMemory) layers.Add(layer);
                else using (layer) WriteLayer(writer, index, layer, diskType);
                Diagnostics.CrashPoints.Here("after-first-layer");
                Log?.Invoke($"layer {index + 1}/{config.NumHiddenLayers} converted");
            }, Log, Calibration, job.Device));
        }
        catch
        {
            foreach (var layer in layers) layer.Dispose();
            throw;
        }
        var files = source.Files();
        files.Config["mla"] = JsonSerializer.SerializeToNode(mla, JsonFormat.Options);

        if (!keepInMemory)
        {
            source.CopyOuterWeights(writer);
            Format.Finish(writer, config with { Mla = mla }, files, temporary, source.Directory, output);
        }
        else
        {
            using var model = LlamaModel.WithLayers(source.Weights, config with { Mla = mla }, job.Device, layers);
            model.RoundWeightsTo(diskType); // what is measured is exactly what is written
            if (evaluation is not null) converted = meter.Measure("eval_converted", () => Evaluate(model, evaluation, "converted", plan.ComputeType));
            if (plan.FineTune.Steps > 0)
            {
                meter.Measure("finetune", () => RecoveryFineTune(model, source, plan.Training!, plan.FineTune, files, temporary));
                model.RoundWeightsTo(diskType);
                if (evaluation is not null) finetuned = meter.Measure("eval_finetuned", () => Evaluate(model, evaluation, "fine-tuned", plan.ComputeType));
            }
            meter.Measure("write", () =>
            {
                model.WriteShards(writer, Format.Layer);   // already rounded to the disk dtype
                Format.Finish(writer, model.Config, files, temporary, source.Directory, output);
            });
        }

        var report = new ConversionReport
        {
            Model = source.Directory,
            Output = output,
            Settings = new ConversionReport.SettingsReport(settings.StrategyName, settings.RopePairs, mla.KvRank, mla.KvBudget, mla.LatentDims, settings.SvdName,
                plan.Calibration, plan.Evaluation, plan.Training, plan.FineTune,
                job.Device.ToString(), ComputePrecision.Name(plan.ComputeType), mla.RopeScore, mla.KvBalance, mla.FreqFold),
            Rope = rope,
            KvCache = ConversionReport.KvCacheOf(config, mla, diskType),
            Perplexity = new ConversionReport.PerplexityReport(original, converted, finetuned),
            Stages = meter.Stages,
        };
        report.Write(temporary);
        return report;
    }

    // A converted layer in the output's layout, rounded first to what the file will hold (so a layout
    // that rescales rows, as DeepSeek-V3's q_proj, maps exactly the weights an MLA checkpoint would hold).
    private void WriteLayer(CheckpointWriter writer, int index, DecoderLayer layer, ScalarType dtype)
    {
        using var scope = torch.NewDisposeScope();
        layer.RoundWeightsTo(dtype);
        writer.WriteShard(Format.Layer(index, layer).ToList());
    }

    // The converted model keeps fp32 weights for its fine-tune, so it is evaluated under autocast.
    private double Evaluate(LlamaModel model, List<int[]> sequences, string what, ScalarType computeType)
    {
        PerplexityResult result;
        using (ComputePrecision.Autocast(model.Device, computeType))
            result = Perplexity.Evaluate(model, sequences);
        Log?.Invoke($"perplexity ({what}): {result.Perplexity:F4} over {result.Tokens} tokens");
        return result.Perplexity;
    }

    // The recovery fine-tune, in place; its metrics are kept as finetune_metrics.jsonl.
    private void RecoveryFineTune(LlamaModel model, Checkpoint source, DataOptions data, TrainingOptions options, CheckpointFiles files, string directory)
    {
        var work = Path.Combine(directory, "finetune");
        var result = FineTune.Run(model, new TrainingData(data, source.LoadTokenizer, source.Config.VocabSize), options, work, files, onStep: OnStep);
        Log?.Invoke($"fine-tune: loss {result.FirstLoss:F4} -> {result.FinalLoss:F4} over {result.Steps} steps");
        File.Move(Path.Combine(work, "metrics.jsonl"), Path.Combine(directory, ConversionReport.FineTuneMetricsName));
        Directory.Delete(work, recursive: true);
    }
}
