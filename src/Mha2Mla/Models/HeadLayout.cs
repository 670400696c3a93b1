namespace Mha2Mla.Models;

/// <summary>
/// How MLA lays out one head's d_h dimensions: the kept RoPE pairs first, in rotate_half form
/// ([k₀ … k_{r−1}, k₀+d_h/2 … k_{r−1}+d_h/2]), then the position-free dimensions in their
/// original order. Position i of the new layout holds original dimension Order[i].
/// </summary>
public static class HeadLayout
{
    public static int[] RopeFirst(int headDim, IReadOnlyList<int> pairs)
    {
        var rope = RopeDims(headDim, pairs);
        var kept = rope.ToHashSet();
        return [.. rope, .. Enumerable.Range(0, headDim).Where(d => !kept.Contains(d))];
    }

    /// <summary>The 2r original dimensions the kept pairs rotate: [k₀ … k_{r−1}, k₀+d_h/2 … k_{r−1}+d_h/2].</summary>
    public static int[] RopeDims(int headDim, IReadOnlyList<int> pairs) =>
        [.. pairs, .. pairs.Select(k => k + headDim / 2)];

    /// <summary>Row indices that reorder a (heads·d_h)-row projection head by head.</summary>
    public static long[] Rows(int headDim, IReadOnlyList<int[]> orderPerHead) =>
        orderPerHead.SelectMany((order, head) => order.Select(d => (long)(head * headDim + d))).ToArray();
}
