namespace Mha2Mla.Conversion;

/// <summary>
/// What RoPE one layer keeps, chosen once per layer and handed to every step that needs it (the
/// balance factor, the budget's gains, the factorization): r pairs of each KV head, or with
/// rorope one shared rope head, whose <see cref="RoRope"/> analysis carries its pairs and mixing.
/// </summary>
/// <param name="Pairs">[kv head][pair], ascending; rorope: one row, the shared head's pairs.</param>
/// <param name="SharedHead">rorope's analysis of the layer; null: per-KV-head pairs.</param>
public sealed record LayerRope(int[][] Pairs, RoRope? SharedHead = null)
{
    public static LayerRope Shared(RoRope head) => new([head.Pairs], head);
}
