using System.Text.Json;

namespace Mha2Mla.Storage;

/// <summary>
/// The weights of a Hugging Face checkpoint directory: one <c>model.safetensors</c>, or shards
/// listed by <c>model.safetensors.index.json</c>. Tensors are read one at a time on request.
/// </summary>
public sealed class WeightStore : IDisposable
{
    private readonly Dictionary<string, SafetensorsFile> fileOf = new(StringComparer.Ordinal);
    private readonly List<SafetensorsFile> files = [];

    public string Directory { get; }
    public IReadOnlyCollection<string> Names => fileOf.Keys;
    public IReadOnlyList<SafetensorsFile> Files => files;

    private WeightStore(string directory) => Directory = directory;

    public static WeightStore Open(string directory)
    {
        var store = new WeightStore(directory);
        try
        {
            var index = System.IO.Path.Combine(directory, "model.safetensors.index.json");
            var single = System.IO.Path.Combine(directory, "model.safetensors");
            if (File.Exists(index)) store.OpenSharded(index);
            else if (File.Exists(single)) store.Add(SafetensorsFile.Open(single));
            else throw NoWeights(directory);
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => fileOf.ContainsKey(name);

    public TensorEntry Entry(string name) =>
        fileOf.TryGetValue(name, out var file) ? file.Tensors[name] : throw Missing(name);

    /// <summary>Reads tensor <paramref name="name"/> as <paramref name="resultType"/> (fp32 by default).</summary>
    /// Every tensor is checked as it streams in: NaN or infinite values are an input error naming it.
    public Tensor Read(string name, ScalarType resultType = ScalarType.Float32)
    {
        if (!fileOf.TryGetValue(name, out var file)) throw Missing(name);
        var tensor = file.Read(name, resultType);
        // One pass, no copy: a NaN or an infinity anywhere makes the sum non-finite.
        using (var sum = tensor.sum())
            if (!double.IsFinite(sum.item()))
            {
                tensor.Dispose();
                throw new InvalidInputException($"{file.Path}: tensor '{name}' holds NaN or infinite values; the checkpoint is damaged (or was saved from a diverged run)");
            }
        return tensor;
    }

    /// <summary>The dtype most of the weights are stored in, or null for a checkpoint without tensors.</summary>
    public ScalarType? StorageType() =>
        files.SelectMany(f => f.Tensors.Values)
            .GroupBy(e => e.DType)
            .OrderByDescending(g => g.Sum(e => e.ElementCount))
            .Select(g => (ScalarType?)g.Key)
            .FirstOrDefault();

    /// <summary><see cref="StorageType"/> as a safetensors name (e.g. BF16).</summary>
    public string StorageDType() => StorageType() is { } type ? SafetensorsDType.Name(type) : "none";

    /// <summary>The dtype to write derived weights in: the checkpoint's own (bf16 if it has no tensors).</summary>
    public ScalarType OutputType() => StorageType() ?? ScalarType.BFloat16;

    private InvalidInputException Missing(string name) =>
        new($"{Directory}: the checkpoint has no tensor '{name}', which the model needs; is config.json from the same model as the weights?");

    private void OpenSharded(string indexPath)
    {
        Dictionary<string, string> weightMap;
        try
        {
            using var document = UserFiles.ReadJson(indexPath);
            var map = document.RootElement.GetProperty("weight_map");
            weightMap = map.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? throw new JsonException("null file name"), StringComparer.Ordinal);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidInputException($"{indexPath}: not a valid safetensors index (expected {{\"weight_map\": {{tensor: file}}}}): {e.Message.Split('\n')[0]}");
        }

        var shards = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        foreach (var shardName in weightMap.Values.Distinct())
        {
            if (shardName.Contains('/') || shardName.Contains('\\') || shardName.StartsWith('.'))
                throw new InvalidInputException($"{indexPath}: shard name '{shardName}' must be a plain file name in the checkpoint directory");
            var shard = SafetensorsFile.Open(System.IO.Path.Combine(Directory, shardName));
            files.Add(shard);
            shards[shardName] = shard;
        }
        foreach (var (tensor, shardName) in weightMap)
        {
            var shard = shards[shardName];
            if (!shard.Tensors.ContainsKey(tensor))
                throw new InvalidInputException($"{indexPath}: lists tensor '{tensor}' in {shardName}, but that file does not hold it");
            fileOf[tensor] = shard;
        }
    }

    private void Add(SafetensorsFile file)
    {
        files.Add(file);
        foreach (var name in file.Tensors.Keys) fileOf[name] = file;
    }

    private static InvalidInputException NoWeights(string directory)
    {
        var pickles = new[] { "pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "model.pth", "consolidated.00.pth" }
            .Where(f => File.Exists(System.IO.Path.Combine(directory, f))).ToList();
        if (pickles.Count > 0)
            return new InvalidInputException(
                $"{directory}: holds only pickle weights ({pickles[0]}); mha2mla refuses them because unpickling runs arbitrary code. " +
                "Convert them to safetensors in a trusted environment (safetensors.torch.save_file or model.save_pretrained(..., safe_serialization=True)) and try again");
        foreach (var name in new[] { "model.safetensors.index.json", "model.safetensors" })
            if (new FileInfo(System.IO.Path.Combine(directory, name)).LinkTarget is not null)
                return new InvalidInputException($"{System.IO.Path.Combine(directory, name)}: {FileLinks.Missing(System.IO.Path.Combine(directory, name))}");
        return new InvalidInputException($"{directory}: no model.safetensors or model.safetensors.index.json; point mha2mla at a Hugging Face checkpoint directory");
    }

    public void Dispose()
    {
        foreach (var file in files) file.Dispose();
        files.Clear();
        fileOf.Clear();
    }
}
