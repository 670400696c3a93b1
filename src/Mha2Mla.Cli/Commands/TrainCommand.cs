using System.CommandLine;
using Mha2Mla.Checkpoints;
using Mha2Mla.Diagnostics;
using Mha2Mla.Models;
using Mha2Mla.Torch;
using Mha2Mla.Training;
using Serilog;

namespace Mha2Mla.Cli.Commands;

/// <summary>`mha2mla train MODEL --data D -o OUT`: fine-tune a checkpoint (or train one from --init).</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var model = new Argument<string?>("MODEL")
        {
            Description = "A Hugging Face checkpoint directory, or 'demo' (omit with --init)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var init = new Option<string?>("--init") { Description = "Start from a random Llama initialization of this config.json instead of MODEL" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "With --init: the tokenizer.json for text data (copied into OUT)" };
        var output = new Option<string>("--output", "-o") { Description = "Output directory: the trained checkpoint, metrics.jsonl, checkpoints/", Required = true };
        var data = new DataArguments();
        var t = new TrainingArguments();
        var resume = new Option<bool>("--resume") { Description = "Continue the run in OUT from its newest checkpoint (same options)" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Start afresh in an existing OUT (its checkpoints and metrics are replaced)" };
        var saveDType = new Option<string?>("--save-dtype") { Description = "dtype of the written weights: bf16, f16 or f32 (default: the input's; bf16 with --init)" };
        saveDType.AcceptOnlyFromAmong("bf16", "f16", "f32");

        var command = new Command("train",
            "Fine-tune a checkpoint on data with AdamW and a warmup/constant/1-sqrt schedule (the MHA2MLA recipe), or train from --init. " +
            "Writes the result in the input's format, metrics.jsonl, and resumable checkpoints every --save-every steps.")
        {
            model, init, tokenizer, output, CommonOptions.Device, resume, overwrite, saveDType,
        };
        foreach (var option in data.All.Concat(t.All)) command.Options.Add(option);

        command.SetAction(parsed =>
        {
            Engine.UseThreads(parsed.GetValue(CommonOptions.Threads));
            var device = Engine.ResolveDevice(parsed.GetValue(CommonOptions.Device)!);
            var options = t.Read(parsed);
            options.Validate();
            var outDir = parsed.GetRequiredValue(output);
            var resuming = parsed.GetValue(resume);
            PrepareOutput(outDir, resuming, parsed.GetValue(overwrite));

            var source = Source.Open(parsed.GetValue(model), parsed.GetValue(init), parsed.GetValue(tokenizer), device, (ulong)options.Seed);
            using var llama = source.Model;
            var dataOptions = data.Read(parsed, source.Config.MaxPositionEmbeddings) with { Seed = options.Seed };
            var batches = new BatchStream(dataOptions, source.Tokenizer, source.Config.VocabSize, options.MicroBatch, device);
            Log.Information("Training {Params:N0} parameters for {Steps} steps (batch {Batch} x {Accum}, seq-len {SeqLen}) on {Device}",
                Trainer.TrainableParameters(llama, options.FreezeNonAttention).Sum(p => p.Param.numel()),
                options.Steps, options.MicroBatch, options.GradAccumulation, dataOptions.SeqLen, device);

            var result = ProgressDisplay.Run("train", options.Steps, "steps", report =>
                new Trainer(llama, batches, options, outDir) { OnStep = m => LogStep(m, options, report) }.Run(resuming));

            source.CopyCompanions(outDir);
            var dtype = ParseDType(parsed.GetValue(saveDType)) ?? source.StorageDType;
            WeightsWriter.Write(outDir, llama.NamedParameters().ToList(), dtype);
            Log.Information("Wrote {Out} ({DType}); loss {First:F4} -> {Final:F4}, {Rate:F0} tokens/s",
                outDir, SafetensorsDType.Name(dtype), result.FirstLoss, result.FinalLoss, result.TokensPerSecond);

            if (parsed.GetValue(CommonOptions.Json))
                JsonOutput.Write(new
                {
                    steps = result.Steps,
                    first_loss = result.FirstLoss,
                    final_loss = result.FinalLoss,
                    tokens = result.Tokens,
                    seconds = result.Seconds,
                    tokens_per_second = result.TokensPerSecond,
                    output = outDir,
                });
            return ExitCodes.Success;
        });
        return command;
    }

    private static void LogStep(StepMetrics m, TrainingOptions options, Action<long> report)
    {
        report(m.Step);
        if (m.Step == 1 || m.Step % options.LogEvery == 0 || m.Step == options.Steps)
            Log.Information("step {Step}/{Steps} loss {Loss:F4} lr {Lr:E2} grad-norm {Norm:F3} {Rate:F0} tokens/s",
                m.Step, options.Steps, m.Loss, m.LearningRate, m.GradNorm, m.TokensPerSecond);
    }

    private static void PrepareOutput(string outDir, bool resume, bool overwrite)
    {
        if (!Directory.Exists(outDir) || resume) return;
        if (!overwrite)
            throw new InvalidInputException($"{outDir} already exists; pass --resume to continue its run, --overwrite to start afresh, or choose another -o");
        var checkpoints = ResumableCheckpoint.Root(outDir);
        if (Directory.Exists(checkpoints)) Directory.Delete(checkpoints, recursive: true);
        File.Delete(Path.Combine(outDir, "metrics.jsonl"));
    }

    internal static ScalarType? ParseDType(string? name) => name switch
    {
        null => null,
        "bf16" => ScalarType.BFloat16,
        "f16" => ScalarType.Float16,
        _ => ScalarType.Float32,
    };

    /// <summary>Where the starting weights, config and tokenizer come from.</summary>
    private sealed record Source(LlamaModel Model, ModelConfig Config, Func<Tokenization.Tokenizer>? Tokenizer, ScalarType StorageDType, Action<string> CopyCompanions)
    {
        public static Source Open(string? model, string? init, string? tokenizerPath, Device device, ulong seed)
        {
            if ((model is null) == (init is null))
                throw new InvalidInputException("train needs exactly one of MODEL or --init CONFIG.json");
            if (init is not null)
            {
                var config = ModelConfigReader.Read(init);
                Func<Tokenization.Tokenizer>? tokenizer = tokenizerPath is null ? null : () => Tokenization.TokenizerReader.Read(tokenizerPath);
                return new Source(LlamaModel.Initialize(config, device, seed), config, tokenizer, ScalarType.BFloat16, outDir =>
                {
                    File.Copy(init, Path.Combine(outDir, "config.json"), overwrite: true);
                    if (tokenizerPath is not null) File.Copy(tokenizerPath, Path.Combine(outDir, "tokenizer.json"), overwrite: true);
                });
            }
            using var checkpoint = Checkpoint.Open(model!);
            var storage = checkpoint.Weights.OutputType();
            var directory = checkpoint.Directory;
            return new Source(LlamaModel.Load(checkpoint.Weights, checkpoint.Config, device), checkpoint.Config,
                File.Exists(Path.Combine(directory, "tokenizer.json")) ? checkpoint.LoadTokenizer : null, storage,
                outDir => ModelSource.CopyCompanions(directory, outDir));
        }
    }
}
