namespace Mha2Mla.Models;

/// <summary>
/// config.json's "mla" section (version 1): how a checkpoint's attention was converted to
/// Multi-head Latent Attention. Pairs[layer][kvHead] lists the RoPE frequency pairs k kept
/// for that KV head (ascending); every other dimension of its keys is position-free.
/// </summary>
public sealed record MlaSettings(int Version, int RopePairs, int KvRank, int LatentDim, string RopeStrategy, string Svd, int[][][] Pairs)
{
    public const int CurrentVersion = 1;

    /// <summary>What model.safetensors.index.json's metadata.format says of a checkpoint in this format.</summary>
    public string IndexFormat => $"mha2mla-mla-v{Version}";

    /// <summary>KV-cache elements per token per layer: the latent plus the rotated keys.</summary>
    public long CacheElementsPerTokenPerLayer(ModelConfig config) => LatentDim + 2L * RopePairs * config.NumKeyValueHeads;
}
