using System.Text.Json.Nodes;


namespace Mha2Mla.Checkpoints;

/// <summary>
/// A Hugging Face checkpoint directory read as a model: config.json (what the model is) plus its
/// safetensors weights. Checkpoints/ knows files; this is where they become a model's.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    public string Directory { get; }
    public ModelConfig Config { get; }
    public WeightStore Weights { get; }

    private Checkpoint(string directory, ModelConfig config, WeightStore weights)
    {
        Directory = directory;
        Config = config;
        Weights = weights;
    }

    /// <summary>Opens a checkpoint directory, or the bundled demo model for "demo".</summary>
    public static Checkpoint Open(string path)
    {
        var (directory, config) = ReadConfig(path);
        var weights = WeightStore.Open(directory);
        try
        {
            LlamaModel.CheckShapes(weights, config);
        }
        catch
        {
            weights.Dispose();
            throw;
        }
        return new Checkpoint(directory, config, weights);
    }

    /// <summary>A MODEL argument's directory and config, without opening its weights.</summary>
    public static (string Directory, ModelConfig Config) ReadConfig(string path)
    {
        path = ModelSource.Resolve(path);
        if (File.Exists(path) && path.EndsWith(".safetensors", StringComparison.Ordinal))
            throw new InvalidInputException($"{path}: pass the checkpoint directory (holding config.json and the weights), not a single weights file");
        if (File.Exists(path))
            throw new InvalidInputException($"{path} is a file; MODEL is the checkpoint directory that holds config.json and the weights (pass its folder)");
        if (!System.IO.Directory.Exists(path))
            throw new InvalidInputException($"{path}: no such directory; MODEL is a Hugging Face checkpoint directory (config.json, *.safetensors), a hub id (org/name[@revision]) in the local hub cache, or 'demo'");
        return (path, ModelConfigReader.Read(Path.Combine(path, "config.json")));
    }

    /// <summary>The checkpoint's tokenizer.json, read on first use; an input error if there is none.</summary>
    public Tokenization.Tokenizer LoadTokenizer() => ReadTokenizer(Directory);

    /// <summary>The tokenizer.json of checkpoint <paramref name="directory"/>; an input error if there is none.</summary>
    public static Tokenization.Tokenizer ReadTokenizer(string directory)
    {
        var path = Path.Combine(directory, "tokenizer.json");
        if (!File.Exists(path))
            throw new InvalidInputException($"{directory}: has no tokenizer.json, which text data needs; add the model's tokenizer.json or give pre-tokenized data (.json, .jsonl with input_ids, .bin)");
        return Tokenization.TokenizerReader.Read(path);
    }

    /// <summary>config.json as written (every field kept) and the companion files, for an output derived from this checkpoint.</summary>
    public CheckpointFiles Files() => FilesOf(Directory);

    /// <summary>As <see cref="Files"/>, for a directory whose config.json has already been read.</summary>
    public static CheckpointFiles FilesOf(string directory) =>
        new(UserFiles.ReadJsonObject(Path.Combine(directory, "config.json")), ModelSource.Companions(directory));

    /// <summary>The token sequences of <paramref name="data"/> (resolved for this model, <see cref="Data.DataOptions.Resolve"/>): its tokenizer for text, its vocabulary to check ids.</summary>
    public List<int[]> ReadSequences(Data.DataOptions data) =>
        Data.SequenceReader.Read(data, LoadTokenizer, Config.VocabSize).ToList();

    /// <summary>
    /// Writes the embedding, final norm and (untied) head into <paramref name="writer"/> as one
    /// shard, straight from the files in their disk dtype: no fp32 detour.
    /// </summary>
    public void CopyOuterWeights(CheckpointWriter writer)
    {
        using var scope = Torch.torch.NewDisposeScope();
        // The names the model's outer modules give, from a layerless model over empty tensors.
        using var shapes = new LlamaModel(Config with { NumHiddenLayers = 0 }, WeightSource.Shapes(Weights, new HashSet<string>()), Torch.Device.CPU);
        writer.WriteShard(shapes.OuterParameters().Select(p => p.Name).Select(n => (n, Weights.Read(n, Weights.Entry(n).DType))).ToList());
    }

    /// <summary>Parameters in the checkpoint's tensors (a tied head is counted once, as HF does).</summary>
    public long ParameterCount() => Weights.Names.Sum(n => Weights.Entry(n).ElementCount);

    public void Dispose() => Weights.Dispose();
}
