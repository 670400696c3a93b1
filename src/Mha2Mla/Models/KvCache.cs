using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>
/// What one layer caches per token: for grouped-query attention the rotated keys and the values
/// (2·n_kv·d_h), for MLA only the latent c_kv (R) and the rotated keys of the kept pairs (n_kv·2r).
/// </summary>
public sealed class LayerCache(CacheBuffer first, CacheBuffer second) : IDisposable
{
    /// <summary>GQA: keys (B, n_kv, T, d_h). MLA: the latent (B, 1, T, R).</summary>
    public CacheBuffer First { get; } = first;
    /// <summary>GQA: values (B, n_kv, T, d_h). MLA: rotated keys (B, n_kv, T, 2r).</summary>
    public CacheBuffer Second { get; } = second;

    public long AllocatedBytes => First.AllocatedBytes + Second.AllocatedBytes;

    public void Dispose()
    {
        First.Dispose();
        Second.Dispose();
    }
}

/// <summary>
/// The KV cache of a whole model for a batch of sequences that share cache positions: prompts are
/// left-padded, so sequence b's first <see cref="Padding"/>[b] positions are padding that no real
/// token attends to, and its tokens' RoPE positions start at 0 after them. MLA layers decode in
/// the absorbed form unless <see cref="Absorb"/> is off (then keys and values are expanded from
/// the cached latent at every step — the same numbers, more work).
/// </summary>
public sealed class KvCache : IDisposable
{
    public IReadOnlyList<LayerCache> Layers { get; }
    public long[] Padding { get; }
    public long Capacity { get; }
    public bool Absorb { get; }

    /// <summary>Positions filled so far (the same for every sequence of the batch).</summary>
    public long Length => Layers[0].First.Length;

    public KvCache(ModelConfig config, long[] padding, long capacity, CacheFormat format, Device device, bool absorb = true)
    {
        (Padding, Capacity, Absorb) = (padding, capacity, absorb);
        var batch = padding.Length;
        var (kv, dh) = (config.NumKeyValueHeads, config.HeadDim);
        Layers = Enumerable.Range(0, config.NumHiddenLayers).Select(l => config.Mla is { } mla
            ? new LayerCache(new CacheBuffer(format, batch, 1, capacity, mla.LatentDims[l], device), new CacheBuffer(format, batch, kv, capacity, 2 * mla.RopePairs, device))
            : new LayerCache(new CacheBuffer(format, batch, kv, capacity, dh, device), new CacheBuffer(format, batch, kv, capacity, dh, device))).ToList();
    }

    /// <summary>Bytes the cache's tensors hold per token of capacity per sequence, over all layers.</summary>
    public double BytesPerToken => Layers.Sum(l => (double)l.AllocatedBytes) / (Capacity * Padding.Length);

    public long AllocatedBytes => Layers.Sum(l => l.AllocatedBytes);

    public void Dispose()
    {
        foreach (var layer in Layers) layer.Dispose();
    }
}
