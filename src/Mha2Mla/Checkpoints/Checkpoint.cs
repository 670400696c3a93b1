using Mha2Mla.Models;

namespace Mha2Mla.Checkpoints;

/// <summary>A Hugging Face checkpoint directory: config.json plus safetensors weights.</summary>
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

    public static Checkpoint Open(string path)
    {
        if (File.Exists(path) && path.EndsWith(".safetensors", StringComparison.Ordinal))
            throw new InvalidInputException($"{path}: pass the checkpoint directory (holding config.json and the weights), not a single weights file");
        if (!System.IO.Directory.Exists(path))
            throw new InvalidInputException($"{path}: no such directory; MODEL is a Hugging Face checkpoint directory (config.json, *.safetensors)");
        var config = ModelConfigReader.Read(Path.Combine(path, "config.json"));
        var weights = WeightStore.Open(path);
        return new Checkpoint(path, config, weights);
    }

    /// <summary>Parameters in the checkpoint's tensors (a tied head is counted once, as HF does).</summary>
    public long ParameterCount() => Weights.Names.Sum(n => Weights.Entry(n).ElementCount);

    public void Dispose() => Weights.Dispose();
}
