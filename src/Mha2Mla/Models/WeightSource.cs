namespace Mha2Mla.Models;

/// <summary>
/// Where a module's tensors come from when it is made: a checkpoint (each tensor checked against
/// the shape the config implies, so a config that disagrees with its weights is reported by
/// name), a fresh random initialization, the shapes alone, or placeholders a conversion fills.
/// <see cref="Under"/> narrows it to a child's names, as the module tree does. Tensors arrive on
/// the target device, as fp32 unless a checkpoint is read in another dtype.
/// </summary>
public sealed class WeightSource
{
    private readonly Func<string, long[], Tensor> take;
    private readonly Device device;
    private readonly string prefix;

    private WeightSource(Func<string, long[], Tensor> take, Device device, string prefix = "") => (this.take, this.device, this.prefix) = (take, device, prefix);

    /// <summary>The same source for the child <paramref name="name"/>.</summary>
    public WeightSource Under(string name) => new(take, device, prefix.Length == 0 ? name : $"{prefix}.{name}");

    /// <summary>The tensor <paramref name="name"/> (under this source's prefix), which must have <paramref name="shape"/>.</summary>
    public Tensor Take(string name, params long[] shape)
    {
        using var scope = torch.NewDisposeScope();
        var cpu = take(prefix.Length == 0 ? name : $"{prefix}.{name}", shape);
        var tensor = device.type == DeviceType.CPU ? cpu : cpu.to(device);
        return tensor.DetachFromDisposeScope();
    }

    public static WeightSource Checkpoint(WeightStore weights, Device device, ScalarType dtype = ScalarType.Float32) => new((name, shape) =>
    {
        CheckShape(weights, name, shape);
        return weights.Read(name, dtype);
    }, device);

    /// <summary>A checkpoint of the model <paramref name="config"/> describes, in its own layout: mha2mla's names, or DeepSeek-V3's mapped as read.</summary>
    public static WeightSource For(WeightStore weights, ModelConfig config, Device device, ScalarType dtype = ScalarType.Float32) =>
        config.IsDeepSeekV3 ? DeepSeekV3Weights.Source(weights, config, device, dtype) : Checkpoint(weights, device, dtype);

    /// <summary><see cref="Shapes"/> for the model <paramref name="config"/> describes, in its own layout (see <see cref="For"/>).</summary>
    public static WeightSource ShapesFor(WeightStore weights, ModelConfig config, ISet<string> requested) =>
        config.IsDeepSeekV3 ? DeepSeekV3Weights.Shapes(weights, config, requested) : Shapes(weights, requested);

    /// <summary>Checks every tensor's shape, reading no data; <paramref name="requested"/> collects the names (the tensors it gives are empty).</summary>
    public static WeightSource Shapes(WeightStore weights, ISet<string> requested) => new((name, shape) =>
    {
        CheckShape(weights, name, shape);
        requested.Add(name);
        return torch.zeros([0]);
    }, Device.CPU);

    /// <summary>Tensors <paramref name="take"/> computes for each full name and expected shape (a checkpoint in another layout, mapped as it is read).</summary>
    public static WeightSource Computed(Func<string, long[], Tensor> take, Device device) => new(take, device);

    /// <summary>Empty tensors, for a module whose weights are computed and then <see cref="Linear.Set"/> (a conversion's MLA attention).</summary>
    public static WeightSource Placeholders(Device device) => new((_, _) => torch.zeros([0]), device);

    /// <summary>
    /// Hugging Face's LlamaPreTrainedModel initialization: weights ~ N(0, 0.02), norms 1, biases 0,
    /// drawn in the order the model is made from libtorch's generator (seed it first with torch.manual_seed).
    /// </summary>
    public static WeightSource RandomInit(Device device, double std = 0.02) => new((name, shape) =>
    {
        if (name.EndsWith("norm.weight", StringComparison.Ordinal)) return torch.ones(shape);
        if (name.EndsWith(".bias", StringComparison.Ordinal)) return torch.zeros(shape);
        using var unit = torch.randn(shape);
        return unit * std;
    }, device);

    /// <summary>Refuses, naming the tensor, a checkpoint tensor whose shape is not the one config.json implies.</summary>
    public static void CheckShape(WeightStore weights, string name, long[] expected)
    {
        var entry = weights.Entry(name);
        if (!entry.Shape.SequenceEqual(expected))
            throw new InvalidInputException(
                $"{weights.Directory}: tensor '{name}' has shape [{string.Join(", ", entry.Shape)}] but config.json implies " +
                $"[{string.Join(", ", expected)}]; config.json and the weights disagree");
    }
}
