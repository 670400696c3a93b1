using Mha2Mla.Evaluation;

namespace Mha2Mla.Cli.Commands;

/// <summary>`mha2mla eval MODEL --data FILE`: perplexity, through <see cref="EvaluationJob"/>.</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "A Hugging Face checkpoint directory (config.json + *.safetensors), a hub id (org/name[@revision]) in the local hub cache, or 'demo'" };
        var format = new DataArguments();
        var data = new DataSetArguments("--data", "Data", required: true, limit: true);
        var dtype = DTypeOptions.Compute(DTypeOptions.InferenceCompute);
        var cache = new CacheOptions();
        cache.DType.Description = "Attend through a KV cache stored this way, exactly as decoding would (the perplexity cost of a quantized cache); default: exact fp32";
        var command = new Command("eval",
            "Measure a checkpoint's perplexity. Each sequence is scored on its own; the loss covers every position after the first, " +
            "and perplexity = exp(total negative log-likelihood / scored tokens).")
        {
            model, CommonOptions.Device, dtype,
        };
        foreach (var option in data.All.Concat(format.All).Concat(cache.All)) command.Options.Add(option);
        command.SetAction(parsed =>
        {
            Runtime.UseThreads(parsed.GetValue(CommonOptions.Threads));
            Runtime.KeepFreedBuffersForReuse();
            using var plan = EvaluationJob.Plan(new EvaluationOptions
            {
                Model = parsed.GetRequiredValue(model),
                Data = format.Read(parsed, data)!,
                Device = Runtime.ResolveDevice(parsed.GetValue(CommonOptions.Device)!),
                ComputeType = DTypeOptions.Parse(parsed.GetValue(dtype)),
                Cache = cache.Read(parsed),
            });
            var result = ProgressDisplay.Run("eval", plan.Tokens, "tokens", report => plan.Run(report, message => Log.Information("{Message}", message)));
            Log.Information("{Tokens} tokens in {Seconds:F1} s ({Rate:F0} tokens/s)", result.Tokens, result.Seconds, result.TokensPerSecond);
            if (parsed.GetValue(CommonOptions.Json)) JsonOutput.Write(result);
            else Console.WriteLine($"perplexity {result.Perplexity:F4} over {result.Tokens} tokens in {result.Sequences} sequences");
            return ExitCodes.Success;
        });
        return command;
    }
}
