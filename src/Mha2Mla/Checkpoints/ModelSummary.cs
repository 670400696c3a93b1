using Mha2Mla.Storage;
using Mha2Mla.Models;
using Mha2Mla.Torch;
using Mha2Mla.Configs;

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

/// <summary>What `mha2mla inspect` reports about a checkpoint.</summary>
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
}
