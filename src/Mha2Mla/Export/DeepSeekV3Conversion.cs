using Mha2Mla.Storage;
using Mha2Mla.Conversion;
using Mha2Mla.Training;
using Mha2Mla.Checkpoints;

namespace Mha2Mla.Export;

/// <summary>
/// `mha2mla convert --format deepseek-v3`: convert with what DeepSeek-V3 needs (a latent norm,
/// pairs shared by every layer, one latent width), fine-tune as asked, then export. The MLA
/// checkpoint in between lives inside OUT's temporary sibling, so a killed run leaves nothing
/// behind that the next one does not remove; OUT gets the export and the conversion's reports.
/// </summary>
public static class DeepSeekV3Conversion
{
    public static (ConversionReport Conversion, ExportReport Export) Run(ConversionJob job, Action<string>? log = null, Action<StepMetrics>? onStep = null)
    {
        job = job with { Settings = job.Settings with { LatentNorm = true, RopeShared = true } };
        if (job.Settings.Width is KvBudget)
            throw new InvalidInputException("--format deepseek-v3 needs one latent width in every layer (DeepSeek's kv_lora_rank): use --kv-rank, not --kv-budget");
        var model = ModelSource.Resolve(job.Model);
        using (var source = Checkpoint.Open(model))
        {
            DeepSeekV3Export.CheckSource(source.Config);
            job.Validate(source.Config);
        }
        using var output = OutputDirectory.ForNewResult(job.Output, job.Overwrite, [model]);
        var mla = Path.Combine(output.WorkDirectory, "mla");
        var conversion = new ConversionPipeline(job with { Model = model, Output = mla, Overwrite = false }) { Log = log, OnStep = onStep, ReportedOutput = output.Path }.Run();
        log?.Invoke("Exporting as DeepSeek-V3");
        ExportReport export;
        using (var converted = Checkpoint.Open(mla))
            export = DeepSeekV3Export.Write(converted, output.WorkDirectory, output.Path,
                new ExportJob { Model = mla, Output = output.Path, SaveDType = job.SaveDType }, log);
        foreach (var report in ConversionReport.FileNames)
            if (File.Exists(Path.Combine(mla, report))) File.Move(Path.Combine(mla, report), Path.Combine(output.WorkDirectory, report));
        Directory.Delete(mla, recursive: true);
        output.Commit();
        return (conversion, export);
    }
}
