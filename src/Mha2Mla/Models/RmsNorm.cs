using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>
/// x / sqrt(mean(x²) + ε) · w, as Llama's RMSNorm: below fp32 the statistics run in fp32 and the
/// result is narrowed back before the weight multiplies it, as transformers' LlamaRMSNorm does.
/// </summary>
public sealed class RmsNorm(Tensor weight, double eps) : IDisposable
{
    public Tensor Weight { get; } = weight;

    public Tensor Forward(Tensor x)
    {
        if (x.dtype == ScalarType.Float32) return Normalize(x) * Weight;
        using var wide = x.to(ScalarType.Float32);
        using var normed = Normalize(wide);
        using var narrow = normed.to(x.dtype);
        return Weight * narrow;
    }

    private Tensor Normalize(Tensor x)
    {
        using var variance = x.pow(2).mean([-1], keepdim: true);
        return x * (variance + eps).rsqrt();
    }

    public void Dispose() => Weight.Dispose();
}
