namespace Mha2Mla.Conversion;

/// <summary>
/// The calibration samples' hidden states as they stream through a model one decoder layer at a
/// time: one (1, T, d) fp32 tensor per sample on the conversion's device, owned here, with the
/// causal masks of each length built once. Memory: the states plus one layer.
/// </summary>
public sealed class CalibrationStates : IDisposable
{
    private readonly RotaryEmbedding rope;
    private readonly List<Tensor> hidden;
    private readonly Dictionary<long, AttentionMask> masks = [];

    /// <summary>The states entering layer 0. The embedding is read in its disk dtype (half the memory of fp32) and only the samples' rows are widened.</summary>
    public CalibrationStates(Checkpoint source, IReadOnlyList<int[]> samples, Device? device = null)
    {
        Device = device ?? Device.CPU;
        rope = new RotaryEmbedding(source.Config, Device);
        var weights = source.Weights;
        using var embedding = weights.Read(LlamaModel.EmbeddingName, weights.Entry(LlamaModel.EmbeddingName).DType);
        hidden = samples.Select(ids =>
        {
            using var scope = torch.NewDisposeScope();
            var input = torch.tensor<long>(Array.ConvertAll(ids, i => (long)i), [1, ids.Length]);
            return torch.nn.functional.embedding(input, embedding).to(ScalarType.Float32, Device).DetachFromDisposeScope();
        }).ToList();
    }

    public Device Device { get; }

    /// <summary>The causal mask of a sample of <paramref name="length"/> tokens, built once per length and owned here.</summary>
    public AttentionMask Mask(long length)
    {
        if (!masks.TryGetValue(length, out var mask)) masks[length] = mask = new AttentionMask(length, Device);
        return mask;
    }

    /// <summary>RoPE's cos and sin tables at positions 0 … <paramref name="length"/>−1, (1, 1, T, d_h), fp32.</summary>
    public (Tensor Cos, Tensor Sin) RopeTables(long length) => rope.Tables(length);

    public int Count => hidden.Count;

    /// <summary>Sample <paramref name="i"/>'s state entering the next layer.</summary>
    public Tensor this[int i] => hidden[i];

    /// <summary>Moves sample <paramref name="i"/>'s state through <paramref name="layer"/>.</summary>
    public void Advance(int i, DecoderLayer layer)
    {
        using var scope = torch.NewDisposeScope();
        var (x, length) = (hidden[i], hidden[i].size(1));
        var (cos, sin) = rope.Tables(length);
        hidden[i] = layer.Forward(x, cos, sin, Mask(length)).DetachFromDisposeScope();
        x.Dispose();
    }

    public void Dispose()
    {
        foreach (var h in hidden) h.Dispose();
        foreach (var byLength in masks.Values) byLength.Dispose();
    }
}
