namespace Mha2Mla.Cli.Commands;

/// <summary>`mha2mla convert MODEL -o OUT`: MHA/GQA to MLA, with calibration, fine-tune and report.</summary>
public static class ConvertCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "A Hugging Face checkpoint directory, a hub id (org/name[@revision]) in the local hub cache, or 'demo'" };
        var output = new Option<string>("--output", "-o") { Description = "Output directory (built beside it and renamed at the end)", Required = true };
        var recipe = new Option<string?>("--config") { Description = "A YAML recipe of these options (e.g. configs/demo.yaml); flags override it" };
        var format = new Option<string>("--format")
        {
            Description = "mla: mha2mla's MLA checkpoint (docs/mla-format.md); deepseek-v3: convert with --latent-norm and --rope-shared, fine-tune as asked, " +
                          "and write a dense DeepSeek-V3 checkpoint that transformers loads as it is (see `mha2mla export --help`)",
            DefaultValueFactory = _ => "mla",
        };
        format.AcceptOnlyFromAmong("mla", Export.DeepSeekV3Export.Format);
        var shape = new Option<string?>("--shape")
        {
            Description = "With --format deepseek-v3: flashmla pads the latent to 512 and the rope head to 64, the shape of FlashMLA's, FlashInfer's and " +
                          "TensorRT-LLM's MLA kernels (see `mha2mla export --help`)",
        };
        shape.AcceptOnlyFromAmong(Export.KernelShape.All.Select(s => s.Name).ToArray());
        var settings = new ConversionSettingsArguments();
        var shared = new ConversionArguments();
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an existing OUT (only once the new one is complete)" };

        var command = new Command("convert",
            "Convert a Llama-family checkpoint (MHA or GQA) to Multi-head Latent Attention: keep RoPE on r frequency pairs per KV head, " +
            "factor the other key dimensions and the values jointly into a latent of n_kv·d_kv by SVD, optionally fine-tune, and write the " +
            "MLA checkpoint with mha2mla_report.json and REPORT.md. Conversion streams one decoder layer at a time, on CPU or (--device cuda) on the GPU, where calibration, 2-norm statistics and the SVDs run too; the report gives each stage's peak GPU memory.")
        {
            model, output, recipe, format, shape, CommonOptions.Device, overwrite,
        };
        foreach (var option in settings.All.Concat(shared.All)) command.Options.Add(option);
        command.SetAction(parsed =>
        {
            Runtime.UseThreads(parsed.GetValue(CommonOptions.Threads));
            Runtime.ReturnLargeBuffersToTheSystem();
            var device = Runtime.ResolveDevice(parsed.GetValue(CommonOptions.Device)!);
            var job = shared.Read(parsed, parsed.GetRequiredValue(model), parsed.GetRequiredValue(output), settings.Read(parsed, parsed.GetValue(shared.Damping)),
                parsed.GetValue(overwrite)) with { Device = device };
            void Message(string message) => Log.Information("{Message}", message);
            var kernel = parsed.GetValue(shape) is { } name ? Export.KernelShape.Parse(name) : null;
            if (parsed.GetValue(format) == Export.DeepSeekV3Export.Format)
            {
                var (conversion, export) = Export.DeepSeekV3Conversion.Run(job, Message, TrainingArguments.StepLog(job.FineTune, "fine-tune "), kernel);
                Log.Information("Wrote {Out}: DeepSeek-V3, kv_lora_rank {Rank}, rope {Rope}", export.Output, export.KvLoraRank, export.Rope["rope_type"]!.GetValue<string>());
                if (parsed.GetValue(CommonOptions.Json)) JsonOutput.Write(new { conversion, export });
                return ExitCodes.Success;
            }
            if (kernel is not null)
                throw new InvalidInputException($"--shape {kernel.Name} pads a DeepSeek-V3 checkpoint; add --format deepseek-v3 (or pad later with `mha2mla export --shape {kernel.Name}`)");
            var report = new ConversionPipeline(job) { Log = Message, OnStep = TrainingArguments.StepLog(job.FineTune, "fine-tune ") }.Run();
            Log.Information("Wrote {Out}: KV cache -{Reduction:F2} % ({Before:0.##} -> {After:0.##} elements per token per layer)",
                report.Output, report.KvCache.ReductionPercent, report.KvCache.ElementsPerTokenPerLayer.Original, report.KvCache.ElementsPerTokenPerLayer.Mla);
            if (parsed.GetValue(CommonOptions.Json)) JsonOutput.Write(report);
            return ExitCodes.Success;
        });
        return command;
    }
}
