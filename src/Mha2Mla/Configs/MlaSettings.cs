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
/// </summary>
public sealed record MlaSettings(int Version, int RopePairs, int? KvRank, int[] LatentDims, string RopeStrategy, string Svd, int[][][] Pairs,
    string? KvBudget = null, bool LatentNorm = false, bool RopeShared = false, string? RopeScore = null, double[]? KvBalance = null)
{
    /// <summary>
    /// RoPE compensation's factors, [layer][kv head][pair] = [C, S] (kept pairs [1, 0]): for the
    /// conversion's report only, not config.json (an 8B model has 32 K of them); null without.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public double[][][][]? RopeCompensation { get; init; }

    public const int CurrentVersion = 2;

    /// <summary>What model.safetensors.index.json's metadata.format says of a checkpoint in this format.</summary>
    public string IndexFormat => $"mha2mla-mla-v{Version}";

    /// <summary>KV-cache elements per token in layer <paramref name="layer"/>: its latent plus the rotated keys.</summary>
    public long CacheElementsPerToken(ModelConfig config, int layer) => LatentDims[layer] + 2L * RopePairs * config.NumKeyValueHeads;

    /// <summary>KV-cache elements per token over all layers.</summary>
    public long CacheElementsPerToken(ModelConfig config) => Enumerable.Range(0, LatentDims.Length).Sum(l => CacheElementsPerToken(config, l));

    /// <summary>"8" for a uniform latent, "min–max (mean m)" for per-layer widths.</summary>
    public string LatentDescription()
    {
        var (min, max) = (LatentDims.Min(), LatentDims.Max());
        return min == max ? $"{min}" : $"{min}–{max} (mean {LatentDims.Average():0.##})";
    }
}
