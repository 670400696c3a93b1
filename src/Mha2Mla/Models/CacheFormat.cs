namespace Mha2Mla.Models;

/// <summary>
/// How a KV cache stores its entries: a float dtype, or int8 / int4 with one fp32 scale per
/// token per group of <see cref="GroupSize"/> consecutive elements (symmetric, round to
/// nearest; int4 packs two values a byte). The group is the largest divisor of a cached
/// vector's width that is at most GroupSize.
/// </summary>
public sealed record CacheFormat(string Name, int GroupSize = 32)
{
    public static readonly string[] Names = ["f32", "bf16", "f16", "int8", "int4"];
    public static readonly CacheFormat F32 = new("f32");

    public bool Quantized => Name is "int8" or "int4";
    /// <summary>Largest quantized magnitude: 127 (int8) or 7 (int4).</summary>
    public int QuantMax => Name == "int8" ? 127 : 7;

    public static CacheFormat Parse(string name, int groupSize = 32)
    {
        if (!Names.Contains(name)) throw new InvalidInputException($"--kv-cache-dtype '{name}' is not one of {string.Join(", ", Names)}");
        if (groupSize < 1) throw new InvalidInputException($"--kv-group-size must be at least 1, not {groupSize}");
        return new CacheFormat(name, groupSize);
    }

    /// <summary>The group a vector of <paramref name="width"/> elements is quantized in (any width: odd
    /// ones, the uneven latents of --kv-budget; int4's packing pads the vector, not the group).</summary>
    public int GroupFor(int width)
    {
        var group = Math.Max(1, Math.Min(GroupSize, width));
        while (width % group != 0) group--;
        return group;
    }
}
