using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>
/// Rotary position embedding in Hugging Face's "rotate_half" layout: frequency pair k is the
/// dimension pair (k, k + d_h/2), rotated by angle t·θ_k with θ_k = base^(−2k/d_h).
/// </summary>
public sealed class RotaryEmbedding(ModelConfig config, Device device)
{
    /// <summary>θ_k for k &lt; d_h/2 at a length within max_position_embeddings, rounded to fp32 as Hugging Face stores them.</summary>
    public float[] InverseFrequencies { get; } = RopeFrequencies.Inverse(config);

    /// <summary>cos and sin tables (1, 1, T, d_h) for positions 0..T−1 (see <see cref="TablesAt"/>).</summary>
    public (Tensor Cos, Tensor Sin) Tables(long length)
    {
        using var scope = torch.NewDisposeScope();
        var positions = torch.arange(0, length, 1, ScalarType.Int64, device).unsqueeze(0);
        var (cos, sin) = TablesAt(positions, length);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// cos and sin tables (B, 1, T, d_h) for each sequence's own positions (B, T), times the RoPE
    /// type's attention factor (yarn's; 1 otherwise). <paramref name="longest"/>: the longest
    /// sequence the positions belong to, for the types whose frequencies depend on it.
    /// </summary>
    public (Tensor Cos, Tensor Sin) TablesAt(Tensor positions, long longest)
    {
        using var scope = torch.NewDisposeScope();
        var inverse = config.Rope.DependsOnLength ? RopeFrequencies.Inverse(config, longest) : InverseFrequencies;
        var frequencies = torch.tensor(inverse).to(device);
        var angles = positions.to(ScalarType.Float32).unsqueeze(-1) * frequencies;   // (B, T, d_h/2)
        var both = torch.cat([angles, angles], -1).unsqueeze(1);                     // (B, 1, T, d_h)
        var (cos, sin) = (both.cos(), both.sin());
        if (config.Rope.AttentionFactor != 1.0) (cos, sin) = (cos * config.Rope.AttentionFactor, sin * config.Rope.AttentionFactor);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>Rotates x (B, H, T, d_h) by tables from <see cref="Tables"/> or <see cref="TablesAt"/>.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin) => x * cos + RotateHalf(x) * sin;

    /// <summary>[x₁, x₂] → [−x₂, x₁] over the last dimension: the 90° turn of each (k, k + half) pair.</summary>
    public static Tensor RotateHalf(Tensor x)
    {
        var half = x.size(-1) / 2;
        return torch.cat([x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)], -1);
    }
}
