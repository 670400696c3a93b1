using System.Text.Json;
using Mha2Mla.Torch;

namespace Mha2Mla.Checkpoints;

/// <summary>
/// Writes named tensors as Hugging Face weights: one model.safetensors, or shards of at most
/// <c>maxShardBytes</c> with a model.safetensors.index.json, each file written atomically.
/// </summary>
public static class WeightsWriter
{
    public const long DefaultShardBytes = 2L << 30;

    public static void Write(string directory, IReadOnlyList<(string Name, Tensor Value)> tensors, ScalarType dtype,
        long maxShardBytes = DefaultShardBytes)
    {
        var shards = new List<List<(string, Tensor)>> { new() };
        long size = 0;
        foreach (var (name, value) in tensors)
        {
            var bytes = value.numel() * dtype.ElementSize();
            if (size > 0 && size + bytes > maxShardBytes)
            {
                shards.Add([]);
                size = 0;
            }
            shards[^1].Add((name, value));
            size += bytes;
        }
        var metadata = new Dictionary<string, string> { ["format"] = "pt" };
        if (shards.Count == 1)
        {
            SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"), shards[0], dtype, metadata);
            return;
        }
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        long total = 0;
        for (var i = 0; i < shards.Count; i++)
        {
            var file = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            SafetensorsWriter.Write(Path.Combine(directory, file), shards[i], dtype, metadata);
            foreach (var (name, value) in shards[i])
            {
                weightMap[name] = file;
                total += value.numel() * dtype.ElementSize();
            }
        }
        var index = new { metadata = new { total_size = total }, weight_map = weightMap };
        File.WriteAllText(Path.Combine(directory, "model.safetensors.index.json"),
            JsonSerializer.Serialize(index, new JsonSerializerOptions { WriteIndented = true }));
    }
}
