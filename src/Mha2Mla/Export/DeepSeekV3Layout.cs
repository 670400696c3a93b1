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
/// </summary>
public sealed class DeepSeekV3Layout(ModelConfig config, int ropePairs, int latent, bool sharedRopeHead = false)
{
    private readonly int heads = config.NumAttentionHeads, kv = config.NumKeyValueHeads, dh = config.HeadDim, r = ropePairs;
    private readonly int slots = sharedRopeHead ? 1 : config.NumKeyValueHeads;

    public int NopeDim => sharedRopeHead ? dh : dh - 2 * r;
    public int RopeDim => slots * 2 * r;
    public int Latent => latent;

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
        }
        return [.. rows];
    }

    /// <summary>kv_a_proj_with_mqa: the latent rows, then each rope head's rows interleaved. Source: kv_down_proj rows, then k_rope_proj rows.</summary>
    public long[] KvARows()
    {
        var rows = Enumerable.Range(0, latent).Select(i => (long)i).ToList();
        for (var j = 0; j < slots; j++)
            for (var i = 0; i < r; i++)
            {
                rows.Add(latent + (long)j * 2 * r + i);
                rows.Add(latent + (long)j * 2 * r + r + i);
            }
        return [.. rows];
    }

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
    /// </summary>
    public static JsonObject Rope(double[] wanted, double theta, int ropeDim, int maxPositions)
    {
        // A ladder starts at frequency 1 and steps by a constant ratio q = θ'^(−2/d_r).
        var ratio = wanted.Length > 1 ? wanted[1] / wanted[0] : 1.0;
        var ladder = Math.Abs(wanted[0] - 1) < 1e-6 && wanted.Select((w, p) => Math.Abs(w / Math.Pow(ratio, p) - 1) < 1e-5).All(x => x);
        if (ladder && wanted.Length > 1)
            return new JsonObject { ["rope_type"] = "default", ["rope_theta"] = Math.Pow(ratio, -ropeDim / 2.0) };
        var factors = new JsonArray(wanted.Select((w, p) => (JsonNode)JsonValue.Create(Math.Pow(theta, -2.0 * p / ropeDim) / w)!).ToArray());
        return new JsonObject
        {
            ["rope_type"] = "longrope", ["rope_theta"] = theta, ["short_factor"] = factors, ["long_factor"] = factors.DeepClone(),
            ["factor"] = 1.0, ["attention_factor"] = 1.0, ["original_max_position_embeddings"] = maxPositions,
        };
    }
}
