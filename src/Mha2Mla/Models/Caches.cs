namespace Mha2Mla.Models;

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
    public long Length => Layers[0].Length;

    public KvCache(ModelConfig config, long[] padding, long capacity, CacheFormat format, Device device, bool absorb = true)
    {
        (Padding, Capacity, Absorb) = (padding, capacity, absorb);
        var batch = padding.Length;
        var (kv, dh) = (config.NumKeyValueHeads, config.HeadDim);
        Layers = Enumerable.Range(0, config.NumHiddenLayers).Select(LayerCache (l) => config.Mla is { } mla
            ? new LatentCache(new CacheBuffer(format, batch, 1, capacity, mla.LatentDims[l], device), new CacheBuffer(format, batch, mla.RopeHeadCount(config), capacity, 2 * mla.RopePairs, device), absorb)
            : new KeyValueCache(new CacheBuffer(format, batch, kv, capacity, dh, device), new CacheBuffer(format, batch, kv, capacity, dh, device))).ToList();
    }

    /// <summary>Bytes the cache's tensors hold per token of capacity per sequence, over all layers.</summary>
    public double BytesPerToken => Layers.Sum(l => (double)l.AllocatedBytes) / (Capacity * Padding.Length);

    public long AllocatedBytes => Layers.Sum(l => l.AllocatedBytes);

    public void Dispose()
    {
        foreach (var layer in Layers) layer.Dispose();
    }
}

/// <summary>What one layer caches per token.</summary>
public abstract class LayerCache : IDisposable
{
    protected abstract IEnumerable<CacheBuffer> Buffers { get; }
    public long Length => Buffers.First().Length;
    public long AllocatedBytes => Buffers.Sum(b => b.AllocatedBytes);

    public void Dispose()
    {
        foreach (var buffer in Buffers) buffer.Dispose();
    }
}

/// <summary>Grouped-query attention's cache: the rotated keys and the values, (B, n_kv, T, d_h) each.</summary>
public sealed class KeyValueCache(CacheBuffer keys, CacheBuffer values) : LayerCache
{
    public CacheBuffer Keys { get; } = keys;
    public CacheBuffer Values { get; } = values;
    protected override IEnumerable<CacheBuffer> Buffers => [Keys, Values];
}

/// <summary>
/// MLA's cache: the latent c_kv (B, 1, T, R) and the rotated keys of the kept pairs (B, n_kv, T, 2r).
/// <paramref name="absorb"/>: attend in the absorbed form over the latent (else keys and values are rebuilt from it).
/// </summary>
public sealed class LatentCache(CacheBuffer latent, CacheBuffer rotatedKeys, bool absorb) : LayerCache
{
    public bool Absorb { get; } = absorb;
    public CacheBuffer Latent { get; } = latent;
    public CacheBuffer RotatedKeys { get; } = rotatedKeys;
    protected override IEnumerable<CacheBuffer> Buffers => [Latent, RotatedKeys];
}

/// <summary>
/// One stream of cached vectors, (B, heads, T, width), preallocated for a maximum length and
/// stored in a <see cref="CacheFormat"/>. New tokens are encoded as they are appended; attention
/// reads them back decoded to its compute dtype — exactly what a decoder holding this cache would see.
/// </summary>
public sealed class CacheBuffer : IDisposable
{
    private readonly CacheFormat format;
    private readonly Tensor storage;  // float: (B, H, Tmax, W) · int8: (B, H, Tmax, W) · int4: (B, H, Tmax, ⌈W/2⌉) bytes
    private readonly Tensor? scales;  // (B, H, Tmax, W/group) fp32 for quantized formats
    private readonly int width, group;

    public long Length { get; private set; }
    public long Capacity { get; }

    public CacheBuffer(CacheFormat format, long batch, long heads, long capacity, int width, Device device)
    {
        (this.format, this.width, Capacity) = (format, width, capacity);
        group = format.GroupFor(width);
        storage = format.Name switch
        {
            "f32" => torch.zeros([batch, heads, capacity, width], ScalarType.Float32, device),
            "bf16" => torch.zeros([batch, heads, capacity, width], ScalarType.BFloat16, device),
            "f16" => torch.zeros([batch, heads, capacity, width], ScalarType.Float16, device),
            "int8" => torch.zeros([batch, heads, capacity, width], ScalarType.Int8, device),
            _ => torch.zeros([batch, heads, capacity, (width + 1) / 2], ScalarType.Byte, device),
        };
        storage.DetachFromDisposeScope();
        if (format.Quantized) scales = torch.zeros([batch, heads, capacity, width / group], ScalarType.Float32, device).DetachFromDisposeScope();
    }

    /// <summary>Bytes of the tensors this buffer holds (all Capacity positions).</summary>
    public long AllocatedBytes => storage.numel() * storage.dtype.ElementSize() + (scales is null ? 0 : scales.numel() * 4);

    /// <summary>Encodes <paramref name="x"/> (B, H, t, width), of any float dtype, into positions [Length, Length + t).</summary>
    public void Append(Tensor x)
    {
        var t = x.size(2);
        if (Length + t > Capacity) throw new InvalidOperationException($"cache of {Capacity} positions is full");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        if (!format.Quantized)
        {
            storage.narrow(2, Length, t).copy_(x);
        }
        else
        {
            var (b, h) = (x.size(0), x.size(1));
            var grouped = x.to(ScalarType.Float32).reshape(b, h, t, width / group, group);   // scales in fp32, whatever computes
            var scale = grouped.abs().amax(-1, keepdim: true).clamp(1e-30, float.MaxValue) / format.QuantMax;
            var q = (grouped / scale).round().clamp(-format.QuantMax, format.QuantMax).reshape(b, h, t, width);
            if (format.Name == "int4" && width % 2 != 0) q = torch.cat([q, torch.zeros([b, h, t, 1], q.dtype, q.device)], -1); // an odd width packs a zero last
            scales!.narrow(2, Length, t).copy_(scale.reshape(b, h, t, width / group));
            if (format.Name == "int8") storage.narrow(2, Length, t).copy_(q);
            else
            {
                // Two values a byte: (low + 8) + 16·(high + 8), each in [1, 15].
                var pairs = (q + 8).reshape(b, h, t, q.size(-1) / 2, 2);
                storage.narrow(2, Length, t).copy_(pairs.select(-1, 0) + pairs.select(-1, 1) * 16);
            }
        }
        Length += t;
    }

    /// <summary>The cached vectors so far, decoded: (B, H, Length, width) in <paramref name="dtype"/>.</summary>
    public Tensor Read(ScalarType dtype)
    {
        using var scope = torch.NewDisposeScope();
        var stored = storage.narrow(2, 0, Length);
        if (!format.Quantized) return stored.to(dtype).MoveToOuterDisposeScope();
        var (b, h) = (stored.size(0), stored.size(1));
        Tensor q;
        if (format.Name == "int8") q = stored.to(ScalarType.Float32);
        else
        {
            var packed = stored.to(ScalarType.Float32);
            var high = (packed / 16).floor();
            var low = packed - high * 16;
            q = torch.cat([low.unsqueeze(-1), high.unsqueeze(-1)], -1).reshape(b, h, Length, 2 * packed.size(-1)).narrow(-1, 0, width) - 8;
        }
        var values = q.reshape(b, h, Length, width / group, group) * scales!.narrow(2, 0, Length).unsqueeze(-1);
        return values.reshape(b, h, Length, width).to(dtype).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        storage.Dispose();
        scales?.Dispose();
    }
}

/// <summary>
/// How a KV cache stores its entries: a float dtype, or int8 / int4 with one fp32 scale per
/// token per group of <see cref="GroupSize"/> consecutive elements (symmetric, round to
/// nearest; int4 packs two values a byte). The group is the largest divisor of a cached
/// vector's width that is at most GroupSize.
/// </summary>
public sealed record CacheFormat(string Name, int GroupSize = 32)
{
    public static readonly string[] Names = ["f32", "bf16", "f16", "int8", "int4"];
    public static readonly CacheFormat F32 = new("f32");

    public bool Quantized => Name is "int8" or "int4";
    /// <summary>Largest quantized magnitude: 127 (int8) or 7 (int4).</summary>
    public int QuantMax => Name == "int8" ? 127 : 7;

    public static CacheFormat Parse(string name, int groupSize = 32)
    {
        if (!Names.Contains(name)) throw new InvalidInputException($"--kv-cache-dtype '{name}' is not one of {string.Join(", ", Names)}");
        if (groupSize < 1) throw new InvalidInputException($"--kv-group-size must be at least 1, not {groupSize}");
        return new CacheFormat(name, groupSize);
    }

    /// <summary>The group a vector of <paramref name="width"/> elements is quantized in (any width: odd
    /// ones, the uneven latents of --kv-budget; int4's packing pads the vector, not the group).</summary>
    public int GroupFor(int width)
    {
        var group = Math.Max(1, Math.Min(GroupSize, width));
        while (width % group != 0) group--;
        return group;
    }
}
