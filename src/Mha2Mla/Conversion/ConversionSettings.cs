using Mha2Mla.Models;

namespace Mha2Mla.Conversion;

public enum SvdMode { Joint, Split }

/// <summary>
/// What a conversion was asked for; r and d_kv left null take the paper's defaults for the model
/// (r = d_h/16, d_kv = d_h/8), which <see cref="Resolve"/> fills in and checks.
/// </summary>
public sealed record ConversionRequest(RopeStrategy Strategy = RopeStrategy.TwoNorm, int? RopePairs = null, int? KvRank = null, SvdMode Svd = SvdMode.Joint)
{
    public ConversionSettings Resolve(ModelConfig config)
    {
        var settings = new ConversionSettings(Strategy, RopePairs ?? Math.Max(1, config.HeadDim / 16), KvRank ?? Math.Max(1, config.HeadDim / 8), Svd);
        settings.Validate(config);
        return settings;
    }
}

/// <summary>What a conversion keeps: r RoPE pairs per KV head and a latent of n_kv·d_kv (DESIGN.md §2).</summary>
public sealed record ConversionSettings(RopeStrategy Strategy, int RopePairs, int KvRank, SvdMode Svd)
{
    public string StrategyName => RopeSelection.Name(Strategy);
    public string SvdName => Svd == SvdMode.Joint ? "joint" : "split";

    public int LatentDim(ModelConfig config) => config.NumKeyValueHeads * KvRank;

    /// <summary>Checks the settings against the model before any work, so a bad value fails at once.</summary>
    public void Validate(ModelConfig config)
    {
        var (dh, kv, d) = (config.HeadDim, config.NumKeyValueHeads, config.HiddenSize);
        if (RopePairs < 1 || RopePairs > dh / 2)
            throw new InvalidInputException($"--rope-pairs {RopePairs} must be between 1 and d_h/2 = {dh / 2}");
        var nopeRows = kv * (dh - 2 * RopePairs);
        var valueRows = kv * dh;
        var latent = LatentDim(config);
        if (KvRank < 1) throw new InvalidInputException($"--kv-rank must be at least 1, not {KvRank}");
        if (Svd == SvdMode.Joint)
        {
            var rank = Math.Min(nopeRows + valueRows, d);
            if (latent > rank)
                throw new InvalidInputException($"--kv-rank {KvRank} makes a latent of {latent} (n_kv·d_kv), beyond the rank of [W_k,nope; W_v] ({rank}); the largest is --kv-rank {rank / kv}");
        }
        else
        {
            if (latent % 2 != 0) throw new InvalidInputException($"--svd split halves the latent ({latent}) between keys and values, so n_kv·d_kv must be even");
            var rank = Math.Min(Math.Min(nopeRows, valueRows), d);
            if (latent / 2 > rank)
                throw new InvalidInputException($"--svd split gives keys and values rank {latent / 2} each, beyond the rank of W_k,nope or W_v ({rank}); lower --kv-rank or --rope-pairs");
        }
    }
}
