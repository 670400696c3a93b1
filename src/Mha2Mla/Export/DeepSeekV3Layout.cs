using System.Text.Json.Nodes;

namespace Mha2Mla.Export;

/// <summary>
/// Where each row of a dense DeepSeek-V3 attention comes from in an mha2mla MLA layer
/// (docs/deepseek-v3-export.md). Notation: n_h query heads in groups of g per KV head j, head
/// dim d_h, r kept pairs per rope head. Per KV head (mha2mla's usual layout): d_r = n_kv·2r rope
/// dims shared by every head, slot j holding KV head j's pairs (a query head's rope rows are zero
/// outside its KV head's slot), qk_nope = d_h − 2r. One shared rope head (RoRoPE): d_r = 2r in one
/// slot every query head reads, qk_nope = d_h. Slots are interleaved: row 2i the first half of pair
/// i, row 2i+1 its second half. Row indices point into the concatenation of the source tensors
/// named for each method; the index one past the end stands for a zero row.
/// With a <see cref="KernelShape"/> the latent is zero-padded to its kv_lora_rank and the rope head
/// to its qk_rope_head_dim: zero rows in kv_a_proj_with_mqa and q_proj, zero columns in kv_b_proj,
/// and the latent norm's weight scaled by √(R/R') because its RMS now averages R' dims of which
/// R' − R are zero (exact but for RMSNorm's ε, in effect ε·R'/R).
/// </summary>
public sealed class DeepSeekV3Layout
{
    private readonly int heads, kv, dh, r, slots;
    private readonly bool sharedRopeHead;

    public DeepSeekV3Layout(ModelConfig config, int ropePairs, int latent, bool sharedRopeHead = false, KernelShape? shape = null)
    {
        (heads, kv, dh, r, this.sharedRopeHead) = (config.NumAttentionHeads, config.NumKeyValueHeads, config.HeadDim, ropePairs, sharedRopeHead);
        slots = sharedRopeHead ? 1 : kv;
        SourceLatent = latent;
        SourceRopeDim = slots * 2 * r;
        Shape = shape;
        if (shape is null) return;
        if (SourceLatent > shape.KvLoraRank)
            throw new InvalidInputException($"--shape {shape.Name} takes a latent of {shape.KvLoraRank} and this one is {SourceLatent} wide; convert with a smaller --kv-rank (or export without --shape)");
        if (SourceRopeDim > shape.QkRopeHeadDim)
            throw new InvalidInputException($"--shape {shape.Name} takes a rope head of {shape.QkRopeHeadDim} and this one is {SourceRopeDim} wide ({(sharedRopeHead ? "2r" : "n_kv·2r")}); convert with fewer --rope-pairs (or export without --shape)");
    }

    /// <summary>The kernel shape padded to; null: the source's own widths.</summary>
    public KernelShape? Shape { get; }

    public int NopeDim => sharedRopeHead ? dh : dh - 2 * r;
    /// <summary>qk_rope_head_dim as written (padded to the shape's).</summary>
    public int RopeDim => Shape?.QkRopeHeadDim ?? SourceRopeDim;
    /// <summary>kv_lora_rank as written (padded to the shape's).</summary>
    public int Latent => Shape?.KvLoraRank ?? SourceLatent;
    /// <summary>The source's rope dims, n_kv·2r or 2r: the real ones of <see cref="RopeDim"/>.</summary>
    public int SourceRopeDim { get; }
    /// <summary>The source's latent R: the real dims of <see cref="Latent"/>.</summary>
    public int SourceLatent { get; }

    // A source query head's rows: [2r rope | position-free], d_h in all per KV head, d_h + 2r beside a shared head.
    private int SourceQueryWidth => 2 * r + NopeDim;

    /// <summary>DeepSeek scales scores by (qk_nope + qk_rope)^−½, the source by its query width's: q is multiplied by this (1 for a shared head).</summary>
    public double QueryScale => Math.Sqrt((double)(NopeDim + RopeDim) / SourceQueryWidth);

    /// <summary>q_proj: per head its position-free rows, then d_r rope rows, zero outside its rope head's slot. Source: q_proj rows, then one zero row.</summary>
    public long[] QueryRows()
    {
        var zero = (long)heads * SourceQueryWidth;
        var rows = new List<long>();
        for (var h = 0; h < heads; h++)
        {
            var (first, slotOfHead) = ((long)h * SourceQueryWidth, sharedRopeHead ? 0 : h / (heads / kv));
            for (var i = 2 * r; i < SourceQueryWidth; i++) rows.Add(first + i);
            for (var slot = 0; slot < slots; slot++)
                for (var i = 0; i < r; i++)
                {
                    rows.Add(slot == slotOfHead ? first + i : zero);     // first half of pair i
                    rows.Add(slot == slotOfHead ? first + r + i : zero); // its second half
                }
            rows.AddRange(Enumerable.Repeat(zero, RopeDim - SourceRopeDim));
        }
        return [.. rows];
    }

    /// <summary>
    /// kv_a_proj_with_mqa: the latent rows, then each rope head's rows interleaved (each part padded
    /// with zero rows to the shape's). Source: kv_down_proj rows, then k_rope_proj rows, then a zero row.
    /// </summary>
    public long[] KvARows()
    {
        var (latent, zero) = (SourceLatent, (long)SourceLatent + SourceRopeDim);
        var rows = Enumerable.Range(0, latent).Select(i => (long)i).ToList();
        rows.AddRange(Enumerable.Repeat(zero, Latent - SourceLatent));
        for (var j = 0; j < slots; j++)
            for (var i = 0; i < r; i++)
            {
                rows.Add(latent + (long)j * 2 * r + i);
                rows.Add(latent + (long)j * 2 * r + r + i);
            }
        rows.AddRange(Enumerable.Repeat(zero, RopeDim - SourceRopeDim));
        return [.. rows];
    }

    /// <summary>kv_b_proj's (or any latent-reading weight's) columns padded with zeros to the written latent.</summary>
    public Tensor PadLatentColumns(Tensor weight) => PadLatentColumns(weight, Latent);

    /// <summary><paramref name="weight"/>'s latent columns padded with zeros to <paramref name="latent"/>.</summary>
    public static Tensor PadLatentColumns(Tensor weight, int latent) => weight.size(1) == latent ? weight
        : torch.cat([weight, torch.zeros([weight.size(0), latent - weight.size(1)], weight.dtype, weight.device)], 1);

    /// <summary>kv_a_layernorm's weight for the written latent (<see cref="PadLatentNorm(Tensor, int)"/>).</summary>
    public Tensor LatentNormWeight(Tensor weight) => PadLatentNorm(weight, Latent);

    /// <summary>
    /// A latent norm's weight of R dims for a latent padded to <paramref name="latent"/> = R': the
    /// source's scaled by √(R/R') (the padded RMS averages R' dims, R' − R of them zero, so it is
    /// √(R/R') of the source's), zero on the padded dims.
    /// </summary>
    public static Tensor PadLatentNorm(Tensor weight, int latent) => weight.size(0) == latent ? weight
        : torch.cat([weight * Math.Sqrt((double)weight.size(0) / latent), torch.zeros([latent - weight.size(0)], weight.dtype, weight.device)], 0);

    /// <summary>The rows <paramref name="rows"/> of <paramref name="stacked"/>, where the index one past its last row stands for a zero row.</summary>
    public static Tensor PickRows(Tensor stacked, IEnumerable<long> rows) =>
        torch.cat([stacked, torch.zeros([1, stacked.size(1)], stacked.dtype, stacked.device)], 0).index_select(0, torch.tensor(rows.ToArray()));

    /// <summary>What padding to <see cref="Shape"/> costs, for the report; null without a shape.</summary>
    public ExportReport.Padding? Padding(int layers) =>
        Shape is { } shape ? ExportReport.Padding.Of(shape, SourceLatent, SourceRopeDim, layers) : null;

    /// <summary>kv_b_proj: per query head, its group's position-free key rows then its value rows. Source: k_up_proj rows, then v_up_proj rows.</summary>
    public long[] KvBRows()
    {
        var valueStart = (long)kv * NopeDim;
        var rows = new List<long>();
        for (var h = 0; h < heads; h++)
        {
            var group = h / (heads / kv);
            for (var i = 0; i < NopeDim; i++) rows.Add((long)group * NopeDim + i);
            for (var i = 0; i < dh; i++) rows.Add(valueStart + (long)group * dh + i);
        }
        return [.. rows];
    }

    /// <summary>
    /// The rotary settings that give pair p of the shared rope head the wanted frequency (slot j,
    /// pair i: p = j·r + i). A plain ladder θ'^(−2p/d_r) is written as default RoPE with θ';
    /// anything else as longrope, whose factors divide the ladder of the source's θ into the wanted frequencies.
    /// Pairs past the wanted ones (a head padded to a kernel shape: zero rows) continue the ladder,
    /// or take the source's θ ladder's own frequency (factor 1).
    /// </summary>
    public static JsonObject Rope(double[] wanted, double theta, int ropeDim, int maxPositions)
    {
        // A ladder starts at frequency 1 and steps by a constant ratio q = θ'^(−2/d_r).
        var ratio = wanted.Length > 1 ? wanted[1] / wanted[0] : 1.0;
        var ladder = Math.Abs(wanted[0] - 1) < 1e-6 && wanted.Select((w, p) => Math.Abs(w / Math.Pow(ratio, p) - 1) < 1e-5).All(x => x);
        if (ladder && wanted.Length > 1)
            return new JsonObject { ["rope_type"] = "default", ["rope_theta"] = Math.Pow(ratio, -ropeDim / 2.0) };
        wanted = [.. wanted, .. Enumerable.Range(wanted.Length, ropeDim / 2 - wanted.Length).Select(p => Math.Pow(theta, -2.0 * p / ropeDim))];
        var factors = new JsonArray(wanted.Select((w, p) => (JsonNode)JsonValue.Create(Math.Pow(theta, -2.0 * p / ropeDim) / w)!).ToArray());
        return new JsonObject
        {
            ["rope_type"] = "longrope", ["rope_theta"] = theta, ["short_factor"] = factors, ["long_factor"] = factors.DeepClone(),
            ["factor"] = 1.0, ["attention_factor"] = 1.0, ["original_max_position_embeddings"] = maxPositions,
        };
    }
}
