using System.Buffers.Binary;

namespace Mha2Mla.Tests.Support;

/// <summary>
/// Checks a directory against the layout docs/mla-format.md ("Files") promises for every
/// mha2mla output, reading the safetensors headers itself (not through mha2mla's reader):
/// an index, every shard it names present, every tensor exactly where the index says, no
/// weights the index does not name, total_size the sum of the tensors' bytes, config.json.
/// </summary>
public static class CheckpointLayout
{
    private static readonly Dictionary<string, int> ElementSize = new() { ["F32"] = 4, ["F16"] = 2, ["BF16"] = 2 };

    /// <returns>The tensor names and dtypes found.</returns>
    public static Dictionary<string, string> AssertValid(string directory, bool mla)
    {
        Assert.True(File.Exists(Path.Combine(directory, "config.json")), $"{directory}: no config.json");
        var indexPath = Path.Combine(directory, "model.safetensors.index.json");
        Assert.True(File.Exists(indexPath), $"{directory}: no model.safetensors.index.json");
        using var index = JsonDocument.Parse(File.ReadAllText(indexPath));
        var weightMap = index.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        var metadata = index.RootElement.GetProperty("metadata");
        if (mla)
        {
            // The index names the format version config.json's mla section has (3 only with a shared rope head).
            var version = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "config.json"))).RootElement.GetProperty("mla").GetProperty("version").GetInt32();
            Assert.Equal($"mha2mla-mla-v{version}", metadata.GetProperty("format").GetString());
        }
        else Assert.False(metadata.TryGetProperty("format", out _), "a plain checkpoint's index names no MLA format");

        var shards = weightMap.Values.Distinct().Order().ToList();
        for (var i = 0; i < shards.Count; i++) Assert.Equal($"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors", shards[i]);
        var onDisk = Directory.GetFiles(directory, "model*.safetensors").Select(f => Path.GetFileName(f)).Order().ToList();
        Assert.Equal(shards, onDisk);

        var found = new Dictionary<string, string>();
        long total = 0;
        foreach (var shard in shards)
            foreach (var (name, dtype, bytes) in Header(Path.Combine(directory, shard)))
            {
                Assert.True(weightMap.TryGetValue(name, out var listed), $"{shard} holds '{name}', which the index does not list");
                Assert.Equal(shard, listed);
                found[name] = dtype;
                total += bytes;
            }
        Assert.Equal(weightMap.Keys.Order(), found.Keys.Order());
        Assert.Equal(total, metadata.GetProperty("total_size").GetInt64());
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "config.json")));
        Assert.Equal(mla, config.RootElement.TryGetProperty("mla", out _));
        return found;
    }

    private static IEnumerable<(string Name, string DType, long Bytes)> Header(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var length = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, (int)length));
        var result = new List<(string, string, long)>();
        long end = 0;
        foreach (var entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__")
            {
                Assert.Equal("pt", entry.Value.GetProperty("format").GetString()); // what transformers requires
                continue;
            }
            var dtype = entry.Value.GetProperty("dtype").GetString()!;
            var count = entry.Value.GetProperty("shape").EnumerateArray().Aggregate(1L, (n, d) => n * d.GetInt64());
            var offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(o => o.GetInt64()).ToArray();
            Assert.Equal(count * ElementSize[dtype], offsets[1] - offsets[0]);
            end = Math.Max(end, offsets[1]);
            result.Add((entry.Name, dtype, offsets[1] - offsets[0]));
        }
        Assert.Equal(bytes.Length, 8 + length + end);
        return result;
    }
}
