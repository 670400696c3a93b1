using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Mha2Mla.Torch;

namespace Mha2Mla.Checkpoints;

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
