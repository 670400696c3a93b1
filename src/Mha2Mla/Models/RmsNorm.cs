using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>x / sqrt(mean(x²) + ε) · w, as Llama's RMSNorm.</summary>
public sealed class RmsNorm(Tensor weight, double eps) : IDisposable
{
    public Tensor Weight { get; } = weight;

    public Tensor Forward(Tensor x)
    {
        var variance = x.pow(2).mean([-1], keepdim: true);
        return x * (variance + eps).rsqrt() * Weight;
    }

    public void Dispose() => Weight.Dispose();
}
