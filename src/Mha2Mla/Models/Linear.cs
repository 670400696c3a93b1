using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>A weight in Linear layout (rows = output features) and its optional bias.</summary>
public sealed class Linear(Tensor weight, Tensor? bias) : IDisposable
{
    public Tensor Weight { get; } = weight;
    public Tensor? Bias { get; } = bias;

    public Tensor Forward(Tensor x) => torch.nn.functional.linear(x, Weight, Bias);

    /// <summary>"PREFIX.weight" and, if present, "PREFIX.bias".</summary>
    public IEnumerable<(string Name, Tensor Value)> NamedParameters(string prefix)
    {
        yield return ($"{prefix}.weight", Weight);
        if (Bias is { } bias) yield return ($"{prefix}.bias", bias);
    }

    public void Dispose()
    {
        Weight.Dispose();
        Bias?.Dispose();
    }
}
