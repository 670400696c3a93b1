namespace Mha2Mla.Checkpoints;

/// <summary>KV-cache cost of a model: elements and bytes per token, per layer and in total.</summary>
public sealed record KvCacheSize(
    double ElementsPerTokenPerLayer,
    long ElementsPerToken,
    int BytesPerElement,
    string CacheDType,
    long Context)
{
    public double BytesPerTokenPerLayer => ElementsPerTokenPerLayer * BytesPerElement;
    public long BytesPerToken => ElementsPerToken * BytesPerElement;
    public long BytesAtContext => BytesPerToken * Context;

    /// <summary>The sizes for <paramref name="context"/> tokens; an input error where they would not fit in 64 bits.</summary>
    public static KvCacheSize Of(ModelConfig config, ScalarType cacheType, long context)
    {
        var perToken = config.KvCacheElementsPerToken * (long)cacheType.ElementSize();
        if (context > long.MaxValue / Math.Max(1, perToken))
            throw new InvalidInputException($"--context {context} makes a cache of more than 2^63 bytes; give a context length a model could hold");
        return Create(config, cacheType, context);
    }

    private static KvCacheSize Create(ModelConfig config, ScalarType cacheType, long context) => new(
        config.KvCacheElementsPerTokenPerLayer,
        config.KvCacheElementsPerToken,
        cacheType.ElementSize(),
        SafetensorsDType.Name(cacheType),
        context);
}

/// <summary>What `mha2mla inspect` reports about a checkpoint: <see cref="Result"/> for --json, <see cref="Text"/> for people.</summary>
public sealed record ModelSummary(
    string Path,
    ModelConfig Config,
    long Parameters,
    string StorageDType,
    KvCacheSize KvCache)
{
    public static ModelSummary Of(Checkpoint checkpoint, ScalarType? cacheType, long context)
    {
        var cache = cacheType ?? checkpoint.Weights.OutputType();
        return new ModelSummary(checkpoint.Directory, checkpoint.Config, checkpoint.ParameterCount(), checkpoint.Weights.StorageDType(),
            KvCacheSize.Of(checkpoint.Config, cache, context));
    }

    /// <summary>What `inspect --json` prints.</summary>
    public sealed record JsonResult(string Path, string ModelType, int Layers, long Parameters, string StorageDtype, ModelConfig Config, string Attention,
        RopeSettings Rope, string[] LayerTypes, int? SlidingWindow, KvCacheResult KvCache);

    public sealed record KvCacheResult(string Dtype, int BytesPerElement, double ElementsPerTokenPerLayer, long ElementsPerToken, double BytesPerTokenPerLayer,
        long BytesPerToken, long Context, long BytesAtContext);

    public JsonResult Result() => new(Path, Config.ModelType, Config.NumHiddenLayers, Parameters, StorageDType, Config,
        Config.Mla is not null ? "mla" : Config.IsGroupedQuery ? "gqa" : "mha", Config.Rope, Config.LayerTypes, Config.SlidingWindow,
        new KvCacheResult(KvCache.CacheDType, KvCache.BytesPerElement, KvCache.ElementsPerTokenPerLayer, KvCache.ElementsPerToken,
            KvCache.BytesPerTokenPerLayer, KvCache.BytesPerToken, KvCache.Context, KvCache.BytesAtContext));

    public string Text()
    {
        var c = Config;
        var attention = c.IsGroupedQuery
            ? $"GQA: {c.NumAttentionHeads} query heads, {c.NumKeyValueHeads} KV heads ({c.GroupSize} per group)"
            : $"MHA: {c.NumAttentionHeads} heads";
        var slidingLayers = Enumerable.Range(0, c.NumHiddenLayers).Where(i => c.WindowOf(i) is not null).ToList();
        var window = slidingLayers.Count == 0 ? "" : slidingLayers.Count == c.NumHiddenLayers
            ? $", sliding window {c.SlidingWindow} on every layer"
            : $", sliding window {c.SlidingWindow} on layers {string.Join(",", slidingLayers)}";
        var kv = KvCache;
        var text = new System.Text.StringBuilder();
        text.AppendLine($"model        {Path} ({c.ModelType})");
        text.AppendLine($"shape        {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, intermediate {c.IntermediateSize}, vocab {c.VocabSize}");
        if (c.IsDeepSeekV3 && c.Mla is { } ds)
            text.AppendLine($"attention    DeepSeek-V3 MLA: {c.NumAttentionHeads} heads, qk_nope_head_dim {ds.NopeDim}, qk_rope_head_dim {2 * ds.RopePairs} " +
                            $"(one shared rope head), v_head_dim {ds.ValueDim}, kv_lora_rank {ds.LatentDims[0]}, q_lora_rank {ds.QueryLoraRank?.ToString() ?? "none"}");
        else
            text.AppendLine($"attention    {attention}, head_dim {c.HeadDim}{(c.QkvBias ? ", qkv bias" : "")}{window}");
        text.AppendLine($"rope         {c.Rope}, max positions {c.MaxPositionEmbeddings}");
        text.AppendLine($"parameters   {Parameters:N0} ({Parameters / 1e6:F1} M), {StorageDType} on disk{(c.TieWordEmbeddings ? ", tied embeddings" : "")}");
        if (c.Mla is { } mla && !c.IsDeepSeekV3)
        {
            var rank = mla.KvRank is { } dkv ? $"d_kv {dkv} x {c.NumKeyValueHeads} KV heads" : $"per layer under --kv-budget {mla.KvBudget}: {string.Join(",", mla.LatentDims)}";
            text.AppendLine($"MLA          latent {mla.LatentDescription()} ({rank}), RoPE on {mla.RopePairs} pairs {(mla.SharedRopeHead ? "in one head every query head reads" : "per KV head")} ({mla.RopeStrategy}), {mla.Svd} SVD");
        }
        var perLayer = kv.ElementsPerTokenPerLayer == Math.Floor(kv.ElementsPerTokenPerLayer) ? $"{kv.ElementsPerTokenPerLayer:N0}" : $"{kv.ElementsPerTokenPerLayer:N2} (mean)";
        text.AppendLine($"KV cache     {perLayer} elements per token per layer = {Bytes((long)Math.Round(kv.BytesPerTokenPerLayer))} ({kv.CacheDType})");
        text.AppendLine($"             {kv.ElementsPerToken:N0} elements per token, all {c.NumHiddenLayers} layers = {Bytes(kv.BytesPerToken)}");
        text.Append($"             {Bytes(kv.BytesAtContext)} at context {kv.Context:N0}");
        return text.ToString();
    }

    private static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F2} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:F2} KiB",
        _ => $"{bytes} B",
    };
}
