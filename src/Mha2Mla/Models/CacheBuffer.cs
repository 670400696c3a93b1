using Mha2Mla.Torch;

namespace Mha2Mla.Models;

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
