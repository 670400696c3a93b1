using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>
/// Rotary position embedding in Hugging Face's "rotate_half" layout: frequency pair k is the
/// dimension pair (k, k + d_h/2), rotated by angle t·θ_k with θ_k = base^(−2k/d_h).
/// </summary>
public sealed class RotaryEmbedding
{
    private readonly Device device;

    /// <summary>θ_k for k &lt; d_h/2, after any rope_scaling, rounded to fp32 as Hugging Face stores them.</summary>
    public float[] InverseFrequencies { get; }

    public RotaryEmbedding(ModelConfig config, Device device)
    {
        this.device = device;
        InverseFrequencies = ComputeInverseFrequencies(config);
    }

    public static float[] ComputeInverseFrequencies(ModelConfig config)
    {
        var half = config.HeadDim / 2;
        var result = new float[half];
        for (var k = 0; k < half; k++)
        {
            var theta = 1.0 / Math.Pow(config.RopeTheta, 2.0 * k / config.HeadDim);
            result[k] = (float)Scale(theta, config.RopeScaling);
        }
        return result;
    }

    // Hugging Face's rope_scaling rules (modeling_rope_utils.py).
    private static double Scale(double theta, RopeScaling? scaling)
    {
        if (scaling is null) return theta;
        if (scaling.Type == "linear") return theta / scaling.Factor;

        // llama3: long wavelengths are slowed by `factor`, short ones kept, the band between blended.
        var lowFreqWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.LowFreqFactor;
        var highFreqWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.HighFreqFactor;
        var wavelen = 2 * Math.PI / (float)theta;
        if (wavelen < highFreqWavelen) return theta;
        if (wavelen > lowFreqWavelen) return theta / scaling.Factor;
        var smooth = (scaling.OriginalMaxPositionEmbeddings / wavelen - scaling.LowFreqFactor) /
                     (scaling.HighFreqFactor - scaling.LowFreqFactor);
        return (1 - smooth) * theta / scaling.Factor + smooth * theta;
    }

    /// <summary>cos and sin tables of shape (T, d_h) for positions 0..T−1.</summary>
    public (Tensor Cos, Tensor Sin) Tables(long length)
    {
        using var scope = torch.NewDisposeScope();
        var positions = torch.arange(0, length, 1, ScalarType.Float32, device);
        var frequencies = torch.tensor(InverseFrequencies).to(device);
        var angles = torch.outer(positions, frequencies);           // (T, d_h/2)
        var both = torch.cat([angles, angles], 1);                  // (T, d_h)
        return (scope.MoveToOuter(both.cos()), scope.MoveToOuter(both.sin()));
    }

    /// <summary>Rotates x (..., T, d_h) by the tables from <see cref="Tables"/>.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin) => x * cos + RotateHalf(x) * sin;

    /// <summary>[x₁, x₂] → [−x₂, x₁] over the last dimension: the 90° turn of each (k, k + half) pair.</summary>
    public static Tensor RotateHalf(Tensor x)
    {
        var half = x.size(-1) / 2;
        return torch.cat([x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)], -1);
    }
}
