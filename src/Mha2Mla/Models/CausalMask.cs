using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>The (T, T) boolean mask that is true where position i may not attend to position j.</summary>
public static class CausalMask
{
    /// <param name="slidingWindow">Mistral's window: also forbid j ≤ i − window.</param>
    public static Tensor Create(long length, int? slidingWindow, Device device)
    {
        using var scope = torch.NewDisposeScope();
        var all = torch.ones([length, length], ScalarType.Bool, device);
        var forbidden = all.triu(1);                                   // the future: j > i
        if (slidingWindow is { } window) forbidden = forbidden.logical_or(all.tril(-window)); // too far back: i − j ≥ window
        return forbidden.MoveToOuterDisposeScope();
    }
}
