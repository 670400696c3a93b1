using System.CommandLine;
using Mha2Mla.Storage;
using Mha2Mla.Data;
using Mha2Mla.Diagnostics;
using Mha2Mla.Evaluation;
using Mha2Mla.Models;
using Serilog;
using Mha2Mla.Checkpoints;

namespace Mha2Mla.Cli.Commands;

/// <summary>`mha2mla eval MODEL --data FILE`: perplexity on pre-tokenized sequences.</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "A Hugging Face checkpoint directory (config.json + *.safetensors), a hub id (org/name[@revision]) in the local hub cache, or 'demo'" };
        var format = new DataArguments();
        var data = new DataSetArguments("--data", "Data", required: true, limit: true);
        var dtype = DTypeOptions.Compute(DTypeOptions.InferenceCompute);
        var command = new Command("eval",
            "Measure a checkpoint's perplexity. Each sequence is scored on its own; the loss covers every position after the first, " +
            "and perplexity = exp(total negative log-likelihood / scored tokens).")
        {
            model, CommonOptions.Device, dtype,
        };
        var cache = new CacheOptions();
        cache.DType.Description = "Attend through a KV cache stored this way, exactly as decoding would (the perplexity cost of a quantized cache); default: exact fp32";
        foreach (var option in data.All.Concat(format.All).Concat(cache.All)) command.Options.Add(option);
        command.SetAction(parsed =>
        {
            Runtime.UseThreads(parsed.GetValue(CommonOptions.Threads));
            Runtime.KeepFreedBuffersForReuse();
            var device = Runtime.ResolveDevice(parsed.GetValue(CommonOptions.Device)!);
            var modelPath = parsed.GetRequiredValue(model);
            using var checkpoint = Checkpoint.Open(modelPath);
            var dataOptions = checkpoint.Config.WithDefaultSeqLen(format.Read(parsed, data)!);
            var dataPath = dataOptions.Path;
            var sequences = checkpoint.ReadSequences(dataOptions);
            var longest = sequences.Count > 0 ? sequences.Max(s => s.Length) : 0;
            if (longest > checkpoint.Config.MaxPositionEmbeddings)
                Log.Warning("The longest sequence has {Length} tokens, more than the model's max_position_embeddings ({Max}); positions past it are extrapolated",
                    longest, checkpoint.Config.MaxPositionEmbeddings);
            var computeType = ComputePrecision.Resolve(DTypeOptions.Parse(parsed.GetValue(dtype)), device);
            Log.Information("Loading {Model} ({Type}, {Layers} layers) on {Device} in {DType}", modelPath, checkpoint.Config.ModelType, checkpoint.Config.NumHiddenLayers, device, ComputePrecision.Name(computeType));
            using var llama = LlamaModel.Load(checkpoint.Weights, checkpoint.Config, device, computeType);

            var total = sequences.Sum(s => Math.Max(0L, s.Length - 1));
            var result = ProgressDisplay.Run("eval", total, "tokens",
                report => Perplexity.Evaluate(llama, sequences, (_, tokens) => report(tokens), cache.Read(parsed)));
            Log.Information("{Tokens} tokens in {Seconds:F1} s ({Rate:F0} tokens/s)", result.Tokens, result.Seconds, result.TokensPerSecond);

            if (parsed.GetValue(CommonOptions.Json))
                JsonOutput.Write(new
                {
                    perplexity = result.Perplexity,
                    tokens = result.Tokens,
                    sequences = result.Sequences,
                    mean_loss = result.MeanLoss,
                    seconds = result.Seconds,
                    tokens_per_second = result.TokensPerSecond,
                    model = modelPath,
                    data = dataPath,
                    device = device.ToString(),
                    dtype = ComputePrecision.Name(computeType),
                    kv_cache_dtype = parsed.GetValue(cache.DType) ?? "exact",
                });
            else
                Console.WriteLine($"perplexity {result.Perplexity:F4} over {result.Tokens} tokens in {result.Sequences} sequences");
            return ExitCodes.Success;
        });
        return command;
    }
}
