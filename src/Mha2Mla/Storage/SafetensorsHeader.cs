using System.Text.Json;

namespace Mha2Mla.Storage;

/// <summary>
/// Parses and validates a safetensors header. Every rule the format states is checked here, so
/// that nothing later ever reads outside the file: known dtypes, shape × dtype size = byte length,
/// offsets inside the data region, no two tensors overlapping.
/// </summary>
public static class SafetensorsHeader
{
    /// <summary>The largest header we accept (the reference implementation's limit).</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    public static Dictionary<string, TensorEntry> Parse(string file, ReadOnlySpan<byte> json, long dataLength)
    {
        JsonDocument document;
        try
        {
            // JsonDocument checks UTF-8 only when a string is read; a header is refused whole, up front.
            if (!System.Text.Unicode.Utf8.IsValid(json)) throw Error(file, "its header is not valid UTF-8; the file is corrupt or not safetensors");
            document = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException e)
        {
            throw Error(file, $"its header is not valid JSON ({e.Message.Split('\n')[0].TrimEnd('.')}); the file is corrupt or not safetensors");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw Error(file, "its header is not a JSON object; the file is corrupt or not safetensors");

            var entries = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__") continue;
                var entry = ParseEntry(file, property.Name, property.Value, dataLength);
                if (!entries.TryAdd(entry.Name, entry)) throw Error(file, $"tensor '{entry.Name}' appears twice in the header");
            }
            CheckNoOverlap(file, entries.Values);
            return entries;
        }
    }

    private static TensorEntry ParseEntry(string file, string name, JsonElement value, long dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object) throw Error(file, $"tensor '{name}' is not described by a JSON object");

        var dtypeName = value.TryGetProperty("dtype", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()! : null;
        if (dtypeName is null) throw Error(file, $"tensor '{name}' has no dtype");
        if (!SafetensorsDType.TryParse(dtypeName, out var dtype))
            throw Error(file, SafetensorsDType.IsKnown(dtypeName)
                ? $"tensor '{name}' has dtype {dtypeName}, which mha2mla does not read (F32, F16 and BF16 are supported); convert the checkpoint to one of them"
                : $"tensor '{name}' has unknown dtype '{dtypeName}'; the file is corrupt or not safetensors");

        var shape = ReadIntegers(file, name, value, "shape");
        var offsets = ReadIntegers(file, name, value, "data_offsets");
        if (offsets.Length != 2) throw Error(file, $"tensor '{name}' must have two data_offsets, not {offsets.Length}");
        var (begin, end) = (offsets[0], offsets[1]);
        if (end < begin) throw Error(file, $"tensor '{name}' ends (byte {end}) before it begins (byte {begin})");
        if (end > dataLength)
            throw Error(file, $"tensor '{name}' ends at byte {end} of the data region but the file holds only {dataLength} data bytes; the file is truncated or corrupt");

        long elements = 1;
        foreach (var dim in shape)
        {
            try { elements = checked(elements * dim); }
            catch (OverflowException) { throw Error(file, $"tensor '{name}' has a shape too large to exist"); }
        }
        var expected = elements * dtype.ElementSize();
        if (end - begin != expected)
            throw Error(file, $"tensor '{name}' has shape [{string.Join(", ", shape)}] {dtypeName} = {expected} bytes but its data_offsets span {end - begin} bytes");
        return new TensorEntry(name, dtype, shape, begin, end);
    }

    private static long[] ReadIntegers(string file, string name, JsonElement value, string field)
    {
        if (!value.TryGetProperty(field, out var array) || array.ValueKind != JsonValueKind.Array)
            throw Error(file, $"tensor '{name}' has no {field} array");
        var result = new long[array.GetArrayLength()];
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out var number) || number < 0)
                throw Error(file, $"tensor '{name}' has a {field} entry that is not a non-negative integer: {item.GetRawText()}");
            result[i++] = number;
        }
        return result;
    }

    private static void CheckNoOverlap(string file, IEnumerable<TensorEntry> entries)
    {
        TensorEntry? previous = null;
        foreach (var entry in entries.Where(e => e.ByteLength > 0).OrderBy(e => e.Begin))
        {
            if (previous is not null && entry.Begin < previous.End)
                throw Error(file, $"tensors '{previous.Name}' and '{entry.Name}' overlap in the data region; the file is corrupt");
            previous = entry;
        }
    }

    internal static InvalidInputException Error(string file, string what) =>
        new($"{file}: {what}");
}
