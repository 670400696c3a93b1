using System.CommandLine;
using Mha2Mla.Storage;
using Mha2Mla.Models;
using Mha2Mla.Checkpoints;

namespace Mha2Mla.Cli.Commands;

/// <summary>`mha2mla inspect MODEL`: architecture, size and KV-cache cost, without loading weights.</summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "A Hugging Face checkpoint directory (config.json + *.safetensors), a hub id (org/name[@revision]) in the local hub cache, or 'demo'" };
        var context = new Option<long?>("--context")
        {
            Description = "Context length for the KV-cache total (default: the model's max_position_embeddings)",
        };
        var cacheDType = new Option<string?>("--cache-dtype")
        {
            Description = "Element type of the KV cache: bf16, f16 or f32 (default: the weights' dtype on disk)",
        };
        cacheDType.AcceptOnlyFromAmong("bf16", "f16", "f32");

        var command = new Command("inspect", "Show a checkpoint's architecture, parameter count and KV-cache size per token and at a context length")
        {
            model, context, cacheDType,
        };
        command.SetAction(parsed =>
        {
            using var checkpoint = Checkpoint.Open(parsed.GetRequiredValue(model));
            var length = parsed.GetValue(context) ?? checkpoint.Config.MaxPositionEmbeddings;
            if (length <= 0) throw new InvalidInputException($"--context must be positive, not {length}");
            var summary = ModelSummary.Of(checkpoint, DTypeOptions.Parse(parsed.GetValue(cacheDType)), length);
            if (parsed.GetValue(CommonOptions.Json)) JsonOutput.Write(ToJson(summary));
            else Print(summary);
            return ExitCodes.Success;
        });
        return command;
    }

    private static object ToJson(ModelSummary s) => new
    {
        path = s.Path,
        model_type = s.Config.ModelType,
        layers = s.Config.NumHiddenLayers,
        parameters = s.Parameters,
        storage_dtype = s.StorageDType,
        config = s.Config,
        attention = s.Config.Mla is not null ? "mla" : s.Config.IsGroupedQuery ? "gqa" : "mha",
        rope = s.Config.Rope,
        layer_types = s.Config.LayerTypes,
        sliding_window = s.Config.SlidingWindow,
        kv_cache = new
        {
            dtype = s.KvCache.CacheDType,
            bytes_per_element = s.KvCache.BytesPerElement,
            elements_per_token_per_layer = s.KvCache.ElementsPerTokenPerLayer,
            elements_per_token = s.KvCache.ElementsPerToken,
            bytes_per_token_per_layer = s.KvCache.BytesPerTokenPerLayer,
            bytes_per_token = s.KvCache.BytesPerToken,
            context = s.KvCache.Context,
            bytes_at_context = s.KvCache.BytesAtContext,
        },
    };

    private static void Print(ModelSummary s)
    {
        var c = s.Config;
        var attention = c.IsGroupedQuery
            ? $"GQA: {c.NumAttentionHeads} query heads, {c.NumKeyValueHeads} KV heads ({c.GroupSize} per group)"
            : $"MHA: {c.NumAttentionHeads} heads";
        var slidingLayers = Enumerable.Range(0, c.NumHiddenLayers).Where(i => c.WindowOf(i) is not null).ToList();
        var window = slidingLayers.Count == 0 ? "" : slidingLayers.Count == c.NumHiddenLayers
            ? $", sliding window {c.SlidingWindow} on every layer"
            : $", sliding window {c.SlidingWindow} on layers {string.Join(",", slidingLayers)}";
        var kv = s.KvCache;
        Console.WriteLine($"model        {s.Path} ({c.ModelType})");
        Console.WriteLine($"shape        {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, intermediate {c.IntermediateSize}, vocab {c.VocabSize}");
        Console.WriteLine($"attention    {attention}, head_dim {c.HeadDim}{(c.QkvBias ? ", qkv bias" : "")}{window}");
        Console.WriteLine($"rope         {c.Rope}, max positions {c.MaxPositionEmbeddings}");
        Console.WriteLine($"parameters   {s.Parameters:N0} ({s.Parameters / 1e6:F1} M), {s.StorageDType} on disk{(c.TieWordEmbeddings ? ", tied embeddings" : "")}");
        if (c.Mla is { } mla)
        {
            var rank = mla.KvRank is { } dkv ? $"d_kv {dkv} x {c.NumKeyValueHeads} KV heads" : $"per layer under --kv-budget {mla.KvBudget}: {string.Join(",", mla.LatentDims)}";
            Console.WriteLine($"MLA          latent {mla.LatentDescription()} ({rank}), RoPE on {mla.RopePairs} pairs per KV head ({mla.RopeStrategy}), {mla.Svd} SVD");
        }
        var perLayer = kv.ElementsPerTokenPerLayer == Math.Floor(kv.ElementsPerTokenPerLayer) ? $"{kv.ElementsPerTokenPerLayer:N0}" : $"{kv.ElementsPerTokenPerLayer:N2} (mean)";
        Console.WriteLine($"KV cache     {perLayer} elements per token per layer = {Bytes((long)Math.Round(kv.BytesPerTokenPerLayer))} ({kv.CacheDType})");
        Console.WriteLine($"             {kv.ElementsPerToken:N0} elements per token, all {c.NumHiddenLayers} layers = {Bytes(kv.BytesPerToken)}");
        Console.WriteLine($"             {Bytes(kv.BytesAtContext)} at context {kv.Context:N0}");
    }

    internal static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F2} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:F2} KiB",
        _ => $"{bytes} B",
    };
}
