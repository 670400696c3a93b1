namespace Mha2Mla.Configs;

/// <summary>
/// θ_k for each frequency pair k &lt; d_h/2 under each RoPE type, by the rules of transformers'
/// modeling_rope_utils.py: default θ_k = base^(−2k/d_h); linear divides by the factor; dynamic
/// (NTK) grows the base once a sequence is longer than max_position_embeddings; llama3 slows
/// long wavelengths by the factor, keeps short ones and blends the band between; yarn
/// interpolates low frequencies, keeps high ones, with a linear ramp between the dimensions
/// that turn beta_fast and beta_slow times over the original context; longrope divides each
/// pair's frequency by its own factor, the short ones up to the original context, the long past it.
/// </summary>
public static class RopeFrequencies
{
    /// <param name="length">The sequence length (only dynamic, and longrope with two sets of factors, depend on it).</param>
    public static float[] Inverse(ModelConfig config, long length = 0)
    {
        var rope = config.Rope;
        var (dim, half) = (config.HeadDim, config.HeadDim / 2);
        var baseTheta = rope.Type == "dynamic" ? DynamicBase(rope, dim, config.MaxPositionEmbeddings, length) : rope.Theta;
        var result = new float[half];
        for (var k = 0; k < half; k++)
        {
            var theta = 1.0 / Math.Pow(baseTheta, 2.0 * k / dim);
            result[k] = (float)(rope.Type switch
            {
                "linear" => theta / rope.Factor!.Value,
                "llama3" => Llama3(theta, rope),
                "yarn" => Yarn(theta, k, dim, rope),
                "longrope" => theta / (length > rope.OriginalMaxPositionEmbeddings ? rope.LongFactor! : rope.ShortFactor!)[k],
                _ => theta,
            });
        }
        return result;
    }

    // NTK: within max_position_embeddings nothing changes; past it the base grows with the length.
    private static double DynamicBase(RopeSettings rope, int dim, int maxPositions, long length)
    {
        var factor = rope.Factor!.Value;
        var seen = Math.Max(length, maxPositions);
        return rope.Theta * Math.Pow(factor * seen / maxPositions - (factor - 1), dim / (dim - 2.0));
    }

    private static double Llama3(double theta, RopeSettings rope)
    {
        var (factor, low, high, original) = (rope.Factor!.Value, rope.LowFreqFactor!.Value, rope.HighFreqFactor!.Value, rope.OriginalMaxPositionEmbeddings!.Value);
        var wavelength = 2 * Math.PI / (float)theta;
        if (wavelength < original / high) return theta;
        if (wavelength > original / low) return theta / factor;
        var smooth = (original / wavelength - low) / (high - low);
        return (1 - smooth) * theta / factor + smooth * theta;
    }

    private static double Yarn(double theta, int k, int dim, RopeSettings rope)
    {
        var (factor, original) = (rope.Factor!.Value, rope.OriginalMaxPositionEmbeddings!.Value);
        // The (fractional) dimension that turns `rotations` times over the original context.
        double DimensionFor(double rotations) => dim * Math.Log(original / (rotations * 2 * Math.PI)) / (2 * Math.Log(rope.Theta));
        var (low, high) = (DimensionFor(rope.BetaFast!.Value), DimensionFor(rope.BetaSlow!.Value));
        if (rope.Truncate != false) (low, high) = (Math.Floor(low), Math.Ceiling(high));
        (low, high) = (Math.Max(low, 0), Math.Min(high, dim - 1));
        if (low == high) high += 0.001;
        var ramp = Math.Clamp((k - low) / (high - low), 0, 1);
        var keep = 1 - ramp; // 1: extrapolate (the frequency as trained), 0: interpolate (divided by the factor)
        return theta / factor * (1 - keep) + theta * keep;
    }
}
