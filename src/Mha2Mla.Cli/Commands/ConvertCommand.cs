using System.CommandLine;
using Mha2Mla.Conversion;
using Mha2Mla.Data;
using Mha2Mla.Diagnostics;
using Serilog;

namespace Mha2Mla.Cli.Commands;

/// <summary>`mha2mla convert MODEL -o OUT`: MHA/GQA to MLA, with calibration, fine-tune and report.</summary>
public static class ConvertCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "A Hugging Face checkpoint directory, a hub id (org/name[@revision]) in the local hub cache, or 'demo'" };
        var output = new Option<string>("--output", "-o") { Description = "Output directory (built beside it and renamed at the end)", Required = true };
        var recipe = new Option<string?>("--config") { Description = "A YAML recipe of these options (e.g. configs/demo.yaml); flags override it" };
        var strategy = new Option<string>("--rope-strategy") { Description = "Which frequency pairs keep RoPE: 2-norm (calibrated), high, low, uniform", DefaultValueFactory = _ => "2-norm" };
        strategy.AcceptOnlyFromAmong("2-norm", "high", "low", "uniform");
        var pairs = new Option<int?>("--rope-pairs") { Description = "RoPE pairs r kept per KV head (default d_h/16)" };
        var rank = new Option<int?>("--kv-rank") { Description = "Latent rank d_kv per KV head; the latent is n_kv·d_kv wide (default d_h/8)" };
        var budget = new Option<string?>("--kv-budget")
        {
            Description = "Instead of --kv-rank: a KV-cache budget, as a percentage of the original cache (12.5%) or elements per token per layer " +
                          "on average (96); each layer's latent width is chosen (in steps of n_kv) to lose the least, as --svd measures it",
        };
        var svd = new Option<string>("--svd")
        {
            Description = "joint: one SVD of [W_k,nope; W_v]; split: each at rank R/2; activation: the joint factors with the least error " +
                          "on the layers' calibration inputs (SVD-LLM/Palu; needs --calib-data)",
            DefaultValueFactory = _ => "joint",
        };
        svd.AcceptOnlyFromAmong("joint", "split", "activation");
        var latentNorm = new Option<bool>("--latent-norm")
        {
            Description = "Put an RMSNorm on the cached latent, as DeepSeek's kv_a_layernorm (weight: the latent's RMS on the calibration data, " +
                          "then trained by the fine-tune); what a DeepSeek-V3 export needs. Needs --calib-data",
        };
        var ropeShared = new Option<bool>("--rope-shared")
        {
            Description = "2-norm: keep the same pairs in every layer (each KV head's scores summed over layers), as a DeepSeek-V3 export needs; high, low and uniform are shared already",
        };
        var format = new Option<string>("--format")
        {
            Description = "mla: mha2mla's MLA checkpoint (docs/mla-format.md); deepseek-v3: convert with --latent-norm and --rope-shared, fine-tune as asked, " +
                          "and write a dense DeepSeek-V3 checkpoint that transformers loads as it is (see `mha2mla export --help`)",
            DefaultValueFactory = _ => "mla",
        };
        format.AcceptOnlyFromAmong("mla", Export.DeepSeekV3Export.Format);
        var shared = new ConversionArguments();
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an existing OUT (only once the new one is complete)" };

        var command = new Command("convert",
            "Convert a Llama-family checkpoint (MHA or GQA) to Multi-head Latent Attention: keep RoPE on r frequency pairs per KV head, " +
            "factor the other key dimensions and the values jointly into a latent of n_kv·d_kv by SVD, optionally fine-tune, and write the " +
            "MLA checkpoint with mha2mla_report.json and REPORT.md. Conversion streams one decoder layer at a time, on CPU or (--device cuda) on the GPU, where calibration, 2-norm statistics and the SVDs run too; the report gives each stage's peak GPU memory.")
        {
            model, output, recipe, strategy, pairs, rank, budget, svd, latentNorm, ropeShared, format, CommonOptions.Device, overwrite,
        };
        foreach (var option in shared.All) command.Options.Add(option);

        command.SetAction(parsed =>
        {
            Runtime.UseThreads(parsed.GetValue(CommonOptions.Threads));
            Runtime.ReturnLargeBuffersToTheSystem();
            var device = Runtime.ResolveDevice(parsed.GetValue(CommonOptions.Device)!);
            var job = shared.Read(parsed, parsed.GetRequiredValue(model), parsed.GetRequiredValue(output),
                new ConversionRequest(RopeSelection.Parse(parsed.GetValue(strategy)!), parsed.GetValue(pairs), Width(parsed.GetValue(rank), parsed.GetValue(budget)),
                    SvdModes.Parse(parsed.GetValue(svd)!), parsed.GetValue(shared.Damping), parsed.GetValue(latentNorm), parsed.GetValue(ropeShared)),
                parsed.GetValue(overwrite)) with { Device = device };
            void Message(string message) => Log.Information("{Message}", message);
            if (parsed.GetValue(format) == Export.DeepSeekV3Export.Format)
            {
                var (conversion, export) = Export.DeepSeekV3Conversion.Run(job, Message, ConversionArguments.FineTuneLog(job.FineTune));
                Log.Information("Wrote {Out}: DeepSeek-V3, kv_lora_rank {Rank}, rope {Rope}", export.Output, export.KvLoraRank, export.Rope["rope_type"]!.GetValue<string>());
                if (parsed.GetValue(CommonOptions.Json))
                    JsonOutput.Write(new { conversion, export });
                return ExitCodes.Success;
            }
            var report = new ConversionPipeline(job) { Log = Message, OnStep = ConversionArguments.FineTuneLog(job.FineTune) }.Run();

            Log.Information("Wrote {Out}: KV cache -{Reduction:F2} % ({Before:0.##} -> {After:0.##} elements per token per layer)",
                report.Output, report.KvCache.ReductionPercent, report.KvCache.ElementsPerTokenPerLayer.Original, report.KvCache.ElementsPerTokenPerLayer.Mla);
            if (parsed.GetValue(CommonOptions.Json))
                JsonOutput.Write(report);
            return ExitCodes.Success;
        });
        return command;
    }

    // --kv-rank and --kv-budget are two ways to say one thing.
    private static LatentWidth? Width(int? rank, string? budget) => (rank, budget) switch
    {
        ({ }, { }) => throw new InvalidInputException("--kv-rank and --kv-budget both set the latent width; give one (--kv-budget chooses a width per layer)"),
        ({ } d, null) => new UniformRank(d),
        (null, { } b) => KvBudget.Parse(b),
        _ => null,
    };
}
