using Mha2Mla.Checkpoints;
using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>
/// Builds a model's modules from a source of named weights: a checkpoint (each tensor checked
/// against the shape the config implies, so a config that disagrees with its weights is reported
/// by name) or a fresh random initialization. Weights arrive on the target device, as fp32 unless
/// a checkpoint is read in another dtype.
/// </summary>
internal sealed class WeightLoader(Func<string, long[], Tensor> source, ModelConfig config, Device device)
{
    public static WeightLoader FromStore(WeightStore weights, ModelConfig config, Device device, ScalarType dtype = ScalarType.Float32) => new((name, expected) =>
    {
        CheckShape(weights, name, expected);
        return weights.Read(name, dtype);
    }, config, device);

    /// <summary>Checks every tensor's shape against the config, reading no data (the tensors it yields are empty).</summary>
    public static WeightLoader ShapesOf(WeightStore weights, ModelConfig config, ISet<string> requested) => new((name, expected) =>
    {
        CheckShape(weights, name, expected);
        requested.Add(name);
        return torch.zeros([0]);
    }, config, Device.CPU);

    private static void CheckShape(WeightStore weights, string name, long[] expected)
    {
        var entry = weights.Entry(name);
        if (!entry.Shape.SequenceEqual(expected))
            throw new InvalidInputException(
                $"{weights.Directory}: tensor '{name}' has shape [{string.Join(", ", entry.Shape)}] but config.json implies " +
                $"[{string.Join(", ", expected)}]; config.json and the weights disagree");
    }

    /// <summary>
    /// Hugging Face's LlamaPreTrainedModel initialization: weights ~ N(0, 0.02), norms 1, biases 0,
    /// drawn in a fixed order from libtorch's generator (seed it first with torch.manual_seed).
    /// </summary>
    public static WeightLoader RandomInit(ModelConfig config, Device device, double std = 0.02) => new((name, shape) =>
    {
        if (name.EndsWith("norm.weight", StringComparison.Ordinal)) return torch.ones(shape);
        if (name.EndsWith(".bias", StringComparison.Ordinal)) return torch.zeros(shape);
        using var unit = torch.randn(shape);
        return unit * std;
    }, config, device);

    public Tensor Read(string name, params long[] expectedShape)
    {
        using var scope = torch.NewDisposeScope();
        var cpu = source(name, expectedShape);
        var weight = device.type == DeviceType.CPU ? cpu : cpu.to(device);
        return weight.DetachFromDisposeScope();
    }

    public Linear ReadLinear(string prefix, long outFeatures, long inFeatures, bool bias) =>
        new(Read($"{prefix}.weight", outFeatures, inFeatures), bias ? Read($"{prefix}.bias", outFeatures) : null);

    /// <summary>Decoder layer <paramref name="index"/> with the attention the config describes (GQA, or MLA once converted).</summary>
    public DecoderLayer ReadLayer(int index) =>
        ReadLayer(index, config.Mla is { } mla ? MlaAttention.Read(this, config, mla, index) : Attention.Read(this, config, index));

    /// <summary>Decoder layer <paramref name="index"/>'s norms and MLP around an attention read by its own factory.</summary>
    public DecoderLayer ReadLayer(int index, IAttention attention)
    {
        string Name(string rest) => WeightNames.Layer(index, rest);
        var d = config.HiddenSize;
        var mlp = new Mlp(
            ReadLinear(Name("mlp.gate_proj"), config.IntermediateSize, d, false),
            ReadLinear(Name("mlp.up_proj"), config.IntermediateSize, d, false),
            ReadLinear(Name("mlp.down_proj"), d, config.IntermediateSize, false));
        return new DecoderLayer(
            new RmsNorm(Read(Name("input_layernorm.weight"), d), config.RmsNormEps),
            attention,
            new RmsNorm(Read(Name("post_attention_layernorm.weight"), d), config.RmsNormEps),
            mlp);
    }
}
