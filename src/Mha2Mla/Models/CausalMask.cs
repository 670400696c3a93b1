using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>The (T, T) boolean mask that is true where position i may not attend to position j.</summary>
public static class CausalMask
{
    /// <param name="slidingWindow">Mistral's window: also forbid j ≤ i − window.</param>
    public static Tensor Create(long length, int? slidingWindow, Device device)
    {
        var forbidden = new bool[length * length];
        for (long i = 0; i < length; i++)
        for (long j = 0; j < length; j++)
            forbidden[i * length + j] = j > i || (slidingWindow is { } w && i - j >= w);
        using var cpu = torch.tensor<bool>(forbidden, [length, length]);
        return cpu.to(device);
    }
}
