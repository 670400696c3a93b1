namespace Mha2Mla.Conversion;

/// <summary>
/// joint: one SVD of [W_k,nope; W_v]; split: each at rank R/2; activation: the joint factors that
/// minimize the error on the layer's calibration inputs, ‖(M − W_up·W_down)·Xᵀ‖ (SVD-LLM, Palu).
/// </summary>
public enum SvdMode { Joint, Split, Activation }

public static class SvdModes
{
    public static readonly string[] Names = ["joint", "split", "activation"];

    public static SvdMode Parse(string name) => name switch
    {
        "joint" => SvdMode.Joint,
        "split" => SvdMode.Split,
        "activation" => SvdMode.Activation,
        _ => throw new InvalidInputException($"--svd '{name}' is not one of {string.Join(", ", Names)}"),
    };
}

/// <summary>
/// What a conversion was asked for; r and the latent width left null take the paper's defaults for
/// the model (r = d_h/16, d_kv = d_h/8), which <see cref="Resolve"/> fills in and checks.
/// </summary>
/// <param name="LatentNorm">Put an RMSNorm on the latent (DeepSeek's kv_a_layernorm), its weight the calibration tokens' latent RMS.</param>
/// <param name="RopeShared">2-norm: one set of pairs per KV head for every layer (scores summed over layers), as DeepSeek needs.</param>
/// <param name="Score">2-norm: how a pair's query and key norms combine.</param>
/// <param name="KvBalance">Scale the position-free keys by 1/α (queries by α) so keys and values have equal norm on the calibration inputs before the factorization.</param>
/// <param name="RopeCompensation">Map each dropped pair's key rows by the mean rotation its queries saw on the calibration data; null: <see cref="CompensatesByDefault"/>.</param>
/// <param name="FreqFold">rorope: adjacent frequency pairs pooled into one group (TransMLA's FreqFold); null: 1.</param>
public sealed record ConversionRequest(RopeStrategy Strategy = RopeStrategy.TwoNorm, int? RopePairs = null, LatentWidth? Width = null, SvdMode Svd = SvdMode.Joint,
    double Damping = ConversionSettings.DefaultDamping, bool LatentNorm = false, bool RopeShared = false, RopeScore Score = RopeScore.Product, bool KvBalance = false,
    bool? RopeCompensation = null, int? FreqFold = null)
{
    /// <summary>
    /// RoPE compensation is on unless asked off where the strategy calibrates anyway (2-norm, rorope):
    /// it won one-shot and after the fine-tune on both demos (README "One-shot fidelity") and costs
    /// nothing at inference. high, low and uniform need no calibration data, so it stays off there.
    /// </summary>
    public static bool CompensatesByDefault(RopeStrategy strategy) => strategy is RopeStrategy.TwoNorm or RopeStrategy.RoRope;

    public ConversionSettings Resolve(ModelConfig config)
    {
        if (Score != RopeScore.Product && Strategy != RopeStrategy.TwoNorm)
            throw new InvalidInputException($"--rope-score ranks pairs for --rope-strategy 2-norm; {RopeSelection.Name(Strategy)} chooses them without scores (drop --rope-score)");
        if (FreqFold is not null && Strategy != RopeStrategy.RoRope)
            throw new InvalidInputException($"--freq-fold groups frequencies for --rope-strategy rorope, not {RopeSelection.Name(Strategy)} (drop --freq-fold)");
        var settings = new ConversionSettings(Strategy, RopePairs ?? Math.Max(1, config.HeadDim / 16), Width ?? LatentWidth.Default(config), Svd, Damping,
            LatentNorm, RopeShared, Score, KvBalance, RopeCompensation ?? CompensatesByDefault(Strategy), FreqFold ?? 1);
        settings.Validate(config);
        return settings;
    }
}

/// <summary>
/// What a conversion keeps: r RoPE pairs per KV head (rorope: n_kv·r pairs in one shared head, the
/// same cache) and a latent of n_kv·d_kv (docs/design.md), or per-layer latents under a budget.
/// </summary>
/// <param name="Damping">activation: λ in C = XᵀX/n + λ·mean(diag C)·I, which keeps C well conditioned.</param>
/// <param name="FreqFold">rorope: F adjacent pairs per group.</param>
public sealed record ConversionSettings(RopeStrategy Strategy, int RopePairs, LatentWidth Width, SvdMode Svd, double Damping = ConversionSettings.DefaultDamping,
    bool LatentNorm = false, bool RopeShared = false, RopeScore Score = RopeScore.Product, bool KvBalance = false, bool RopeCompensation = false, int FreqFold = 1)
{
    /// <summary>rorope: the pairs of the one shared rope head, n_kv·r (the cache the per-KV-head strategies give r).</summary>
    public int SharedRopePairs(ModelConfig config) => config.NumKeyValueHeads * RopePairs;

    /// <summary>Position-free key rows per layer: n_kv·(d_h − 2r), or all n_kv·d_h beside a shared rope head.</summary>
    public int PositionFreeKeyRows(ModelConfig config) =>
        config.NumKeyValueHeads * (Strategy == RopeStrategy.RoRope ? config.HeadDim : config.HeadDim - 2 * RopePairs);

    public const double DefaultDamping = 1e-3;
    /// <summary>Beyond this the damping term swamps the covariance (activation SVD becomes weight SVD) and, far beyond, overflows to infinity.</summary>
    public const double MaxDamping = 100;

    public string StrategyName => RopeSelection.Name(Strategy);
    public string SvdName => Svd.ToString().ToLowerInvariant();

    /// <summary>Whether the conversion runs the original model on calibration data (2-norm statistics, activation-aware factors).</summary>
    public bool NeedsCalibration => Strategy == RopeStrategy.TwoNorm || NeedsCovariance || RopeCompensation;

    /// <summary>Whether the conversion needs the layers' input covariance XᵀX/n (activation factors, the latent norm's initial weight, K/V balancing).</summary>
    public bool NeedsCovariance => Svd == SvdMode.Activation || LatentNorm || KvBalance || Strategy == RopeStrategy.RoRope;

    /// <summary>The elements a per-layer width grows by: n_kv (one per KV head), twice that for split (keys and values alike).</summary>
    public int WidthStep(ModelConfig config) => config.NumKeyValueHeads * (Svd == SvdMode.Split ? 2 : 1);

    /// <summary>Checks the settings against the model before any work, so a bad value fails at once.</summary>
    public void Validate(ModelConfig config)
    {
        var (dh, kv, d) = (config.HeadDim, config.NumKeyValueHeads, config.HiddenSize);
        if (RopePairs < 1 || RopePairs > dh / 2)
            throw new InvalidInputException($"--rope-pairs {RopePairs} must be between 1 and d_h/2 = {dh / 2}");
        if (Strategy == RopeStrategy.RoRope) ValidateRoRope(config);
        var nopeRows = PositionFreeKeyRows(config);
        var valueRows = kv * dh;
        if (!(Damping >= 0 && Damping <= MaxDamping))
            throw new InvalidInputException($"--svd-damping must be between 0 and {MaxDamping} (a multiple of the covariance's mean diagonal; 1e-3 by default), not {Damping}");
        if (Width is not UniformRank { KvRank: var kvRank } uniform) return; // the allocation checks a budget against the layers' ranks
        var latent = uniform.LatentDim(config);
        if (kvRank < 1) throw new InvalidInputException($"--kv-rank must be at least 1, not {kvRank}");
        if (Svd != SvdMode.Split)
        {
            var rank = Math.Min(nopeRows + valueRows, d);
            if (latent > rank)
                throw new InvalidInputException($"--kv-rank {kvRank} makes a latent of {latent} (n_kv·d_kv), beyond the rank of [W_k,nope; W_v] ({rank}); the largest is --kv-rank {rank / kv}");
        }
        else
        {
            if (latent % 2 != 0) throw new InvalidInputException($"--svd split halves the latent ({latent}) between keys and values, so n_kv·d_kv must be even");
            var rank = Math.Min(Math.Min(nopeRows, valueRows), d);
            if (latent / 2 > rank)
                throw new InvalidInputException($"--svd split gives keys and values rank {latent / 2} each, beyond the rank of W_k,nope or W_v ({rank}); lower --kv-rank or --rope-pairs");
        }
    }

    private void ValidateRoRope(ModelConfig config)
    {
        var (dh, kv) = (config.HeadDim, config.NumKeyValueHeads);
        if (kv == 1)
            throw new InvalidInputException("--rope-strategy rorope mixes the KV heads' keys per frequency, and this model has one KV head (MQA); choose 2-norm");
        if (FreqFold < 1 || (dh / 2) % FreqFold != 0)
            throw new InvalidInputException($"--freq-fold {FreqFold} must divide d_h/2 = {dh / 2} (pairs are grouped F adjacent ones at a time)");
        var groups = dh / 2 / FreqFold;
        if (SharedRopePairs(config) > groups)
            throw new InvalidInputException($"rorope keeps n_kv·r = {SharedRopePairs(config)} rope pairs in one shared head, one per frequency group, but --freq-fold {FreqFold} leaves {groups} groups; lower --rope-pairs or --freq-fold");
        if (RopeShared)
            throw new InvalidInputException("--rope-shared chooses 2-norm pairs once for every layer; rorope chooses its groups per layer (with --freq-fold d_h/(2·n_kv·r) every group is kept, the same in every layer)");
    }
}
