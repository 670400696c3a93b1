using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>The (T, T) boolean mask that is true where position i may not attend to position j.</summary>
public static class CausalMask
{
    /// <param name="slidingWindow">Mistral's window: also forbid j ≤ i − window.</param>
    public static Tensor Create(long length, int? slidingWindow, Device device) => Rows(0, length, length, slidingWindow, device);

    /// <summary>
    /// Only the rows of queries start … start+T−1 over keys 0 … keys−1: what a step with a KV
    /// cache needs (one row when decoding), never the whole square.
    /// </summary>
    public static Tensor Rows(long start, long length, long keys, int? slidingWindow, Device device)
    {
        using var scope = torch.NewDisposeScope();
        var all = torch.ones([length, keys], ScalarType.Bool, device);
        var forbidden = all.triu(start + 1);                                                            // the future: j > i
        if (slidingWindow is { } window) forbidden = forbidden.logical_or(all.tril(start - window));    // too far back: i − j ≥ window
        return forbidden.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The masks of one forward pass, one per sliding window (and one for full causal attention),
/// each built when first asked for: the rows of queries start … start+T−1 over keys 0 … keys−1,
/// with anything else forbidden (<paramref name="alsoForbidden"/>, e.g. a batch's left padding)
/// added to each.
/// </summary>
public sealed class CausalMasks(long start, long length, long keys, Device device, Tensor? alsoForbidden = null) : IDisposable
{
    private readonly Dictionary<int, AttentionMask> byWindow = [];

    /// <summary>The masks of a whole sequence of <paramref name="length"/> tokens.</summary>
    public CausalMasks(long length, Device device) : this(0, length, length, device) { }

    /// <param name="window">A layer's sliding window, or null for full causal attention.</param>
    public AttentionMask For(int? window)
    {
        // A window at least as long as the sequence forbids nothing the causal mask allows.
        if (window >= keys) window = null;
        var key = window ?? 0;
        if (!byWindow.TryGetValue(key, out var mask))
        {
            var plain = start == 0 && length == keys && window is null && alsoForbidden is null;
            byWindow[key] = mask = new AttentionMask(() =>
            {
                var rows = CausalMask.Rows(start, length, keys, window, device);
                return alsoForbidden is null ? rows : rows.logical_or(alsoForbidden);
            }, plain);
        }
        return mask;
    }

    public void Dispose()
    {
        foreach (var mask in byWindow.Values) mask.Dispose();
        byWindow.Clear();
    }
}
