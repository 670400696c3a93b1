using Mha2Mla.Export;

namespace Mha2Mla.Cli.Commands;

/// <summary>`mha2mla export MLA_DIR -o OUT --format deepseek-v3`: an MLA checkpoint as a dense DeepSeek-V3 one.</summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MLA_DIR") { Description = "An MLA checkpoint written by `mha2mla convert` (or train)" };
        var output = new Option<string>("--output", "-o") { Description = "Output directory (built beside it and renamed at the end)", Required = true };
        var format = new Option<string>("--format") { Description = "deepseek-v3: a dense DeepseekV3ForCausalLM checkpoint that transformers loads as it is", Required = true };
        format.AcceptOnlyFromAmong(DeepSeekV3Export.Format);
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an existing OUT (only once the new one is complete)" };
        var shape = new Option<string?>("--shape")
        {
            Description = "flashmla: zero-pad the latent to 512 and the rope head to 64, the shape FlashMLA, FlashInfer's MLA and TensorRT-LLM's " +
                          "MLA kernels take; the same model (the latent norm's weight rescaled), a larger cache (export_report.json says how much)",
        };
        shape.AcceptOnlyFromAmong(KernelShape.All.Select(s => s.Name).ToArray());
        var shared = new ConversionArguments();

        var command = new Command("export",
            "Write an MLA checkpoint in another architecture's layout. deepseek-v3: the same model as a dense DeepSeek-V3 (one shared rope head, " +
            "the latent as kv_lora_rank, kv_a_layernorm on it), loaded by transformers' DeepseekV3ForCausalLM without trust_remote_code. " +
            "The source needs one set of RoPE pairs for all layers (convert --rope-shared, or high/low/uniform), one latent width, no attention " +
            "biases and fixed RoPE frequencies (default, linear, llama3); a source without --latent-norm needs --calib-data (the export then " +
            "differs from it). Writes export_report.json beside the weights.")
        {
            model, output, format, shape, shared.SaveDType, overwrite,
        };
        foreach (var option in shared.Calibration.All.Concat(shared.Evaluation.All).Concat(shared.Data.All)) command.Options.Add(option);
        command.SetAction(parsed =>
        {
            Runtime.UseThreads(parsed.GetValue(CommonOptions.Threads));
            var report = DeepSeekV3Export.Run(new ExportJob
            {
                Model = parsed.GetRequiredValue(model),
                Output = parsed.GetRequiredValue(output),
                Calibration = shared.Data.Read(parsed, shared.Calibration),
                Evaluation = shared.Data.Read(parsed, shared.Evaluation),
                SaveDType = DTypeOptions.Parse(parsed.GetValue(shared.SaveDType)),
                Shape = parsed.GetValue(shape) is { } name ? KernelShape.Parse(name) : null,
                Overwrite = parsed.GetValue(overwrite),
            }, message => Log.Information("{Message}", message));
            Log.Information("Wrote {Out}: DeepSeek-V3, kv_lora_rank {Rank}, rope {Rope} ({RopeDim} dims)", report.Output, report.KvLoraRank,
                report.Rope["rope_type"]!.GetValue<string>(), report.QkRopeHeadDim);
            if (parsed.GetValue(CommonOptions.Json)) JsonOutput.Write(report);
            return ExitCodes.Success;
        });
        return command;
    }
}
