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
    /// <param name="shape">Pad the output to a serving kernel's fixed shape (<see cref="KernelShape"/>); null: the conversion's widths.</param>
    public static (ConversionReport Conversion, ExportReport Export) Run(ConversionJob job, Action<string>? log = null, Action<StepMetrics>? onStep = null, KernelShape? shape = null)
    {
        // The same pairs in every layer: 2-norm shares its choice; rorope keeps every group at the fold checked below.
        var rorope = job.Settings.Strategy == RopeStrategy.RoRope;
        job = job with { Settings = job.Settings with { LatentNorm = true, RopeShared = !rorope } };
        if (job.Settings.Width is KvBudget)
            throw new InvalidInputException("--format deepseek-v3 needs one latent width in every layer (DeepSeek's kv_lora_rank): use --kv-rank, not --kv-budget");
        var model = ModelSource.Resolve(job.Model);
        DeepSeekV3Output format;
        using (var source = Checkpoint.Open(model))
        {
            DeepSeekV3Export.CheckSource(source.Config);
            var settings = job.Plan(source.Config).Settings;
            var config = source.Config;
            if (rorope && settings.FreqFold * settings.SharedRopePairs(config) * 2 != config.HeadDim)
                throw new InvalidInputException($"--format deepseek-v3 needs the same rope frequencies in every layer: with rorope, --freq-fold {config.HeadDim / (2 * settings.SharedRopePairs(config))} " +
                                                $"keeps every frequency group (n_kv·r = {settings.SharedRopePairs(config)} of them), not --freq-fold {settings.FreqFold}");
            format = new DeepSeekV3Output(config, rorope ? settings.SharedRopePairs(config) : settings.RopePairs, ((UniformRank)settings.Width).LatentDim(config), rorope, shape);
        }
        var conversion = new ConversionPipeline(job with { Model = model }) { Log = log, OnStep = onStep, Format = format }.Run();
        return (conversion, format.Report!);
    }
}
