using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Mha2Mla.Storage;

/// <summary>
/// Writes a .safetensors file. The file is written under a temporary name in the same directory,
/// flushed to disk and renamed into place, so a crash never leaves a complete-looking half file.
/// </summary>
public static class SafetensorsWriter
{
    /// <param name="tensors">Name and tensor, written in this order.</param>
    /// <param name="diskType">The dtype stored on disk (F32, F16 or BF16).</param>
    public static void Write(string path, IReadOnlyList<(string Name, Tensor Value)> tensors, ScalarType diskType,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        foreach (var (name, value) in tensors) RequireFinite(path, name, value, diskType);
        var header = BuildHeader(tensors, diskType, metadata);
        var temporary = $"{path}.tmp-{Environment.ProcessId}";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
                stream.Write(length);
                stream.Write(header);
                foreach (var (_, value) in tensors) value.WriteTo(stream, diskType);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    // What readers refuse, writers never write: NaN or ±inf in a weight (from a factorization that
    // broke down, or a value beyond f16's ±65504) is an error, and the file is not written.
    private static void RequireFinite(string path, string name, Tensor value, ScalarType diskType)
    {
        if (value.numel() == 0) return;
        using var scope = torch.NewDisposeScope();
        // f32 and bf16 share one exponent range, so a finite value stays finite: one pass, no copy
        // (a NaN or an infinity anywhere makes the sum non-finite). f16 rounds to ±inf from 65520 on.
        var finite = diskType == ScalarType.Float16
            ? value.abs().reshape(-1).amax(0).item() is var peak && peak < 65520   // false for NaN too
            : double.IsFinite(value.sum().item());
        if (!finite)
            throw new InvalidInputException($"{path}: tensor '{name}' would hold NaN or infinite values in {SafetensorsDType.Name(diskType)}, so it is not written" +
                (diskType == ScalarType.Float16 ? " (f16 ends at ±65504: save as bf16 or f32)" : "; the computation that made it broke down (check the inputs and options)"));
    }

    private static byte[] BuildHeader(IReadOnlyList<(string Name, Tensor Value)> tensors, ScalarType diskType,
        IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, value) in tensors)
            {
                var bytes = value.numel() * diskType.ElementSize();
                json.WriteStartObject(name);
                json.WriteString("dtype", SafetensorsDType.Name(diskType));
                json.WriteStartArray("shape");
                foreach (var dim in value.shape) json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        // Pad with spaces to a multiple of 8 so the data region is aligned, as the format recommends.
        var padding = (8 - buffer.Length % 8) % 8;
        for (var i = 0; i < padding; i++) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }
}
