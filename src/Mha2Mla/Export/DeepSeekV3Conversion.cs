using Mha2Mla.Conversion;
using Mha2Mla.Training;

namespace Mha2Mla.Export;

/// <summary>
/// `mha2mla convert --format deepseek-v3`: convert with what DeepSeek-V3 needs (a latent norm,
/// pairs shared by every layer, one latent width) and fine-tune as asked, in the one conversion
/// pipeline, whose last stage writes DeepSeek-V3 (<see cref="DeepSeekV3Output"/>) instead of
/// mha2mla's MLA layout: no MLA checkpoint in between. OUT gets the export and the conversion's reports.
/// </summary>
public static class DeepSeekV3Conversion
{
    public static (ConversionReport Conversion, ExportReport Export) Run(ConversionJob job, Action<string>? log = null, Action<StepMetrics>? onStep = null)
    {
        job = job with { Settings = job.Settings with { LatentNorm = true, RopeShared = true } };
        if (job.Settings.Width is KvBudget)
            throw new InvalidInputException("--format deepseek-v3 needs one latent width in every layer (DeepSeek's kv_lora_rank): use --kv-rank, not --kv-budget");
        var model = ModelSource.Resolve(job.Model);
        DeepSeekV3Output format;
        using (var source = Checkpoint.Open(model))
        {
            DeepSeekV3Export.CheckSource(source.Config);
            var settings = job.Plan(source.Config).Settings;
            format = new DeepSeekV3Output(source.Config, settings.RopePairs, ((UniformRank)settings.Width).LatentDim(source.Config));
        }
        var conversion = new ConversionPipeline(job with { Model = model }) { Log = log, OnStep = onStep, Format = format }.Run();
        return (conversion, format.Report!);
    }
}
