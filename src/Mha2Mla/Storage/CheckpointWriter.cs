using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mha2Mla.Storage;

/// <summary>What travels with the weights: config.json's contents and the files copied beside them.</summary>
/// <param name="Format">The index's metadata.format (e.g. "mha2mla-mla-v2"), or null for a plain checkpoint.</param>
public sealed record CheckpointFiles(JsonObject Config, IReadOnlyList<Companion> Companions, string? Format = null);

/// <summary>A file copied into the output under <paramref name="Name"/> (tokenizer.json, generation_config.json, ...).</summary>
public sealed record Companion(string Source, string Name);

/// <summary>
/// Writes a Hugging Face checkpoint directory, the one layout every mha2mla output has
/// (docs/mla-format.md, "Files"): shards written one at a time as the caller streams them
/// (mha2mla writes one per decoder layer and a last one for the embedding, final norm and head),
/// named model-0000i-of-0000N.safetensors once N is known, always a model.safetensors.index.json,
/// then config.json and the companion files. Weights from an earlier write in the same
/// directory are removed, so the index never lists a stale shard.
/// </summary>
public sealed class CheckpointWriter(string directory, ScalarType dtype)
{
    public const string IndexName = "model.safetensors.index.json";
    private static readonly Dictionary<string, string> ShardMetadata = new() { ["format"] = "pt" }; // what transformers expects

    private readonly List<(string Temporary, List<(string Name, long Bytes)> Tensors)> shards = [];

    /// <summary>Writes one shard now (fp32 tensors are stored as this writer's dtype).</summary>
    public void WriteShard(IReadOnlyList<(string Name, Tensor Value)> tensors)
    {
        var temporary = Path.Combine(directory, $".shard-{shards.Count:D5}.safetensors");
        SafetensorsWriter.Write(temporary, tensors, dtype, ShardMetadata);
        shards.Add((temporary, tensors.Select(t => (t.Name, t.Value.numel() * dtype.ElementSize())).ToList()));
    }

    /// <summary>Names the shards, writes the index, config.json and companions.</summary>
    public void Finish(CheckpointFiles files)
    {
        RemoveEarlierWeights();
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        long total = 0;
        for (var i = 0; i < shards.Count; i++)
        {
            var name = ShardName(i, shards.Count);
            File.Move(shards[i].Temporary, Path.Combine(directory, name));
            foreach (var (tensor, bytes) in shards[i].Tensors)
            {
                if (!weightMap.TryAdd(tensor, name)) throw new InvalidOperationException($"tensor '{tensor}' written twice");
                total += bytes;
            }
        }
        var metadata = new JsonObject { ["total_size"] = total };
        if (files.Format is { } format) metadata["format"] = format;
        var index = new JsonObject { ["metadata"] = metadata, ["weight_map"] = JsonSerializer.SerializeToNode(weightMap) };
        AtomicFile.WriteAllText(Path.Combine(directory, IndexName), index.ToJsonString(Indented));
        AtomicFile.WriteAllText(Path.Combine(directory, "config.json"), WithWrittenDType(files.Config).ToJsonString(Indented));
        foreach (var companion in files.Companions)
            File.Copy(companion.Source, Path.Combine(directory, companion.Name), overwrite: true);
    }

    // config.json says the dtype the weights are stored in (what transformers loads them as by
    // default): the written one, not the source's (an f64 or f16 source saved as bf16 says bfloat16).
    // Both spellings are kept as the source had them: transformers 5 writes dtype, 4 torch_dtype.
    private JsonObject WithWrittenDType(JsonObject config)
    {
        var copy = (JsonObject)config.DeepClone();
        var name = dtype switch { ScalarType.BFloat16 => "bfloat16", ScalarType.Float16 => "float16", _ => "float32" };
        var keys = new[] { "dtype", "torch_dtype" }.Where(copy.ContainsKey).ToList();
        foreach (var key in keys.Count > 0 ? keys : ["torch_dtype"]) copy[key] = name;
        return copy;
    }

    private static string ShardName(int index, int count) => $"model-{index + 1:D5}-of-{count:D5}.safetensors";

    private void RemoveEarlierWeights()
    {
        foreach (var stale in System.IO.Directory.GetFiles(directory, "model*.safetensors").Append(Path.Combine(directory, IndexName)))
            if (File.Exists(stale)) File.Delete(stale);
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
