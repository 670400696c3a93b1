using System.Text.Json.Serialization;

namespace Mha2Mla.Configs;

/// <summary>
/// config.json's "mla" section: how a checkpoint's attention was converted to Multi-head Latent
/// Attention. Pairs[layer][kvHead] lists the RoPE frequency pairs k kept for that KV head
/// (ascending); every other dimension of its keys is position-free. LatentDims[layer] is that
/// layer's latent width R_l: n_kv·d_kv everywhere for a uniform rank, chosen per layer under a
/// KV budget (then KvRank is null and KvBudget says what was asked). LatentNorm: an RMSNorm on
/// the latent (weights self_attn.kv_latent_norm.weight), as DeepSeek's kv_a_layernorm.
/// Version 2 added latent_dims, kv_budget, latent_norm and rope_shared; version 1 (one
/// latent_dim for every layer, no norm) still loads. RopeScore and KvBalance (each layer's α, or
/// null) say how the weights were made; a reader needs neither (the weights carry them).
/// Version 3 added RopeHeads = 1 (RoRoPE, <c>--rope-strategy rorope</c>): the cache holds ONE rotated
/// key head that every query head reads (DeepSeek's layout), Pairs[layer] = [its RopePairs pairs];
/// each query head is [2·RopePairs rope | d_h position-free] rows and scores scale by
/// 1/√(d_h + 2·RopePairs), as DeepSeek's do. Without it (null) each KV head has its own pairs and
/// scores scale by 1/√d_h; such checkpoints are still written as version 2. FreqFold: how many
/// adjacent frequencies RoRoPE pooled into one group (a reader needs it not).
/// A DeepSeek-V3 checkpoint read as MLA (<see cref="DeepSeekV3ConfigReader"/>) sets the widths its
/// config gives freely and mha2mla's conversions derive from d_h: NopeDim (qk_nope_head_dim, the
/// position-free query and key width), ValueDim (v_head_dim) and QueryLoraRank (q_lora_rank: the
/// query made through a normed low-rank bottleneck); null, and not written, otherwise.
/// </summary>
public sealed record MlaSettings(int Version, int RopePairs, int? KvRank, int[] LatentDims, string RopeStrategy, string Svd, int[][][] Pairs,
    string? KvBudget = null, bool LatentNorm = false, bool RopeShared = false, string? RopeScore = null, double[]? KvBalance = null,
    int? RopeHeads = null, int? FreqFold = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? NopeDim = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? ValueDim = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? QueryLoraRank = null)
{
    /// <summary>The newest version this mha2mla reads.</summary>
    public const int CurrentVersion = 3;

    /// <summary>The version a conversion writes: 3 only where a reader must know (one shared rope head), else 2 so older readers still load it.</summary>
    public static int VersionFor(bool sharedRopeHead) => sharedRopeHead ? 3 : 2;

    /// <summary>True when one rotated key head serves every query head (RoRoPE).</summary>
    public bool SharedRopeHead => RopeHeads == 1;

    /// <summary>The rotated key heads the cache holds: 1 when shared, else one per KV head.</summary>
    public int RopeHeadCount(ModelConfig config) => RopeHeads ?? config.NumKeyValueHeads;

    /// <summary>What model.safetensors.index.json's metadata.format says of a checkpoint in this format.</summary>
    public string IndexFormat => $"mha2mla-mla-v{Version}";

    /// <summary>KV-cache elements per token in layer <paramref name="layer"/>: its latent plus the rotated keys.</summary>
    public long CacheElementsPerToken(ModelConfig config, int layer) => LatentDims[layer] + 2L * RopePairs * RopeHeadCount(config);

    /// <summary>KV-cache elements per token over all layers.</summary>
    public long CacheElementsPerToken(ModelConfig config) => Enumerable.Range(0, LatentDims.Length).Sum(l => CacheElementsPerToken(config, l));

    /// <summary>"8" for a uniform latent, "min–max (mean m)" for per-layer widths.</summary>
    public string LatentDescription()
    {
        var (min, max) = (LatentDims.Min(), LatentDims.Max());
        return min == max ? $"{min}" : $"{min}–{max} (mean {LatentDims.Average():0.##})";
    }
}
