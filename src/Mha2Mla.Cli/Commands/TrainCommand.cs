using Mha2Mla.Training;

namespace Mha2Mla.Cli.Commands;

/// <summary>`mha2mla train MODEL --data D -o OUT`: fine-tune a checkpoint (or train one from --init).</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var model = new Argument<string?>("MODEL")
        {
            Description = "A Hugging Face checkpoint directory, a hub id (org/name[@revision]) in the local hub cache, or 'demo' (omit with --init)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var init = new Option<string?>("--init") { Description = "Start from a random Llama initialization of this config.json instead of MODEL" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "With --init: the tokenizer.json for text data (copied into OUT)" };
        var output = new Option<string>("--output", "-o") { Description = "Output directory: the trained checkpoint, metrics.jsonl, checkpoints/", Required = true };
        var format = new DataArguments();
        var data = new DataSetArguments("--data", "Data", required: true, limit: true);
        var t = new TrainingArguments();
        var resume = new Option<bool>("--resume") { Description = "Continue the run in OUT from its newest checkpoint (same options)" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Start afresh in an existing OUT (its checkpoints and metrics are replaced)" };
        var saveDType = DTypeOptions.SaveDType("the input's; bf16 with --init");

        var command = new Command("train",
            "Fine-tune a checkpoint on data with AdamW and a warmup/constant/1-sqrt schedule (the MHA2MLA recipe), or train from --init. " +
            "Writes the result in the input's format, metrics.jsonl, and resumable checkpoints every --save-every steps.")
        {
            model, init, tokenizer, output, CommonOptions.Device, resume, overwrite, saveDType,
        };
        foreach (var option in data.All.Concat(format.All).Concat(t.All)) command.Options.Add(option);
        command.SetAction(parsed =>
        {
            Runtime.UseThreads(parsed.GetValue(CommonOptions.Threads));
            Runtime.KeepFreedBuffersForReuse();
            var options = t.Read(parsed);
            var result = ProgressDisplay.Run("train", options.Steps, "steps", report => new TrainingJob
            {
                Model = parsed.GetValue(model),
                InitConfig = parsed.GetValue(init),
                Tokenizer = parsed.GetValue(tokenizer),
                Output = parsed.GetRequiredValue(output),
                Data = format.Read(parsed, data)! with { Seed = options.Seed },
                Options = options,
                Resume = parsed.GetValue(resume),
                Overwrite = parsed.GetValue(overwrite),
                SaveDType = DTypeOptions.Parse(parsed.GetValue(saveDType)),
                Device = Runtime.ResolveDevice(parsed.GetValue(CommonOptions.Device)!),
                Log = message => Log.Information("{Message}", message),
                OnStep = TrainingArguments.StepLog(options, report: report),
            }.Run());
            if (parsed.GetValue(CommonOptions.Json)) JsonOutput.Write(result);
            return ExitCodes.Success;
        });
        return command;
    }
}
