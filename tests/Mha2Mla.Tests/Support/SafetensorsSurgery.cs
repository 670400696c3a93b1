using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace Mha2Mla.Tests.Support;

/// <summary>Byte-level edits to a safetensors file, to build the broken inputs users meet.</summary>
public static class SafetensorsSurgery
{
    public static (JsonObject Header, byte[] Data) Split(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var length = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, length))!.AsObject();
        return (header, bytes[(8 + length)..]);
    }

    /// <summary>Rewrites the header through <paramref name="edit"/>, keeping the data bytes.</summary>
    public static void EditHeader(string path, Action<JsonObject> edit)
    {
        var (header, data) = Split(path);
        edit(header);
        WriteRaw(path, Encoding.UTF8.GetBytes(header.ToJsonString()), data);
    }

    public static void WriteRaw(string path, byte[] header, byte[] data, ulong? claimedLength = null)
    {
        using var stream = File.Create(path);
        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, claimedLength ?? (ulong)header.Length);
        stream.Write(prefix);
        stream.Write(header);
        stream.Write(data);
    }

    public static void SetHeaderLength(string path, ulong value)
    {
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        File.WriteAllBytes(path, bytes);
    }

    public static void Truncate(string path, int dropBytes)
    {
        using var stream = new FileStream(path, FileMode.Open);
        stream.SetLength(stream.Length - dropBytes);
    }
}
