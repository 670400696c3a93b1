namespace Mha2Mla.Cli;

/// <summary>`convert`'s conversion settings: which RoPE pairs stay, the latent width, the factorization, the latent norm.</summary>
public sealed class ConversionSettingsArguments
{
    private readonly Option<string> strategy;
    private readonly Option<int?> pairs;
    private readonly Option<int?> rank;
    private readonly Option<string?> budget;
    private readonly Option<string> svd;
    private readonly Option<bool> latentNorm;
    private readonly Option<bool> ropeShared;
    private readonly Option<string> ropeScore;
    private readonly Option<bool> kvBalance;
    private readonly Option<bool> ropeCompensation;
    private readonly Option<int?> freqFold;

    public ConversionSettingsArguments()
    {
        strategy = new Option<string>("--rope-strategy")
        {
            Description = "Which frequency pairs keep RoPE: 2-norm (calibrated), high, low, uniform, each per KV head; or rorope (TransMLA: each " +
                          "frequency's keys mixed across the KV heads by PCA on the calibration data, the leading component keeps RoPE in ONE shared " +
                          "rope head as DeepSeek's; GQA only, needs --calib-data)",
            DefaultValueFactory = _ => "2-norm",
        };
        strategy.AcceptOnlyFromAmong("2-norm", "high", "low", "uniform", "rorope");
        pairs = new Option<int?>("--rope-pairs") { Description = "RoPE pairs r kept per KV head (default d_h/16); rorope keeps n_kv·r in its shared head, the same cache" };
        rank = new Option<int?>("--kv-rank") { Description = "Latent rank d_kv per KV head; the latent is n_kv·d_kv wide (default d_h/8)" };
        budget = new Option<string?>("--kv-budget")
        {
            Description = "Instead of --kv-rank: a KV-cache budget, as a percentage of the original cache (12.5%) or elements per token per layer " +
                          "on average (96); each layer's latent width is chosen (in steps of n_kv) to lose the least, as --svd measures it",
        };
        svd = new Option<string>("--svd")
        {
            Description = "joint: one SVD of [W_k,nope; W_v]; split: each at rank R/2; activation: the joint factors with the least error " +
                          "on the layers' calibration inputs (SVD-LLM/Palu; needs --calib-data)",
            DefaultValueFactory = _ => "joint",
        };
        svd.AcceptOnlyFromAmong("joint", "split", "activation");
        latentNorm = new Option<bool>("--latent-norm")
        {
            Description = "Put an RMSNorm on the cached latent, as DeepSeek's kv_a_layernorm (weight: the latent's RMS on the calibration data, " +
                          "then trained by the fine-tune); what a DeepSeek-V3 export needs. Needs --calib-data",
        };
        ropeShared = new Option<bool>("--rope-shared")
        {
            Description = "2-norm: keep the same pairs in every layer (each KV head's scores summed over layers), as a DeepSeek-V3 export needs; high, low and uniform are shared already",
        };
        ropeScore = new Option<string>("--rope-score")
        {
            Description = "2-norm: how a pair's mean query and key norms combine into its score: product (the MHA2MLA authors' code today) " +
                          "or sum (their code and rank files before June 2025)",
            DefaultValueFactory = _ => "product",
        };
        ropeScore.AcceptOnlyFromAmong("product", "sum");
        kvBalance = new Option<bool>("--kv-balance")
        {
            Description = "Before the factorization, divide the position-free key rows by α and multiply the matching query rows by α (every score " +
                          "unchanged) so that keys and values have equal norm on the calibration inputs (TransMLA's BKV); α per layer in the report. Needs --calib-data",
        };
        ropeCompensation = new Option<bool>("--rope-compensation")
        {
            Description = "Map each dropped pair's key rows by the rotation its queries saw on average (attention-weighted, on the calibration data), " +
                          "so the position-free score keeps RoPE's mean effect; free at inference (docs/design.md). On by default for 2-norm and rorope " +
                          "(they calibrate anyway), off for high, low and uniform; --rope-compensation false turns it off, true on (needs --calib-data)",
        };
        freqFold = new Option<int?>("--freq-fold")
        {
            Description = "rorope: pool F adjacent frequency pairs into one group before the PCA (TransMLA's FreqFold; default 1), each rotated at the " +
                          "group's first frequency. F = d_h/(2·n_kv·r) keeps every group, the same frequency ladder in every layer (what a DeepSeek-V3 export reads without longrope factors)",
        };
    }

    public IEnumerable<Option> All => [strategy, pairs, rank, budget, svd, latentNorm, ropeShared, ropeScore, kvBalance, ropeCompensation, freqFold];

    public ConversionRequest Read(ParseResult parsed, double damping) =>
        new(RopeSelection.Parse(parsed.GetValue(strategy)!), parsed.GetValue(pairs), Width(parsed.GetValue(rank), parsed.GetValue(budget)),
            SvdModes.Parse(parsed.GetValue(svd)!), damping, parsed.GetValue(latentNorm), parsed.GetValue(ropeShared),
            RopeSelection.ParseScore(parsed.GetValue(ropeScore)!), parsed.GetValue(kvBalance), Given(parsed, ropeCompensation), parsed.GetValue(freqFold));

    // A switch whose default depends on other settings: null when not given (a bool option always has
    // a result, an implicit one when absent), so the request resolves it.
    private static bool? Given(ParseResult parsed, Option<bool> option) => parsed.GetResult(option) is { Implicit: false } ? parsed.GetValue(option) : null;

    // --kv-rank and --kv-budget are two ways to say one thing.
    private static LatentWidth? Width(int? rank, string? budget) => (rank, budget) switch
    {
        ({ }, { }) => throw new InvalidInputException("--kv-rank and --kv-budget both set the latent width; give one (--kv-budget chooses a width per layer)"),
        ({ } d, null) => new UniformRank(d),
        (null, { } b) => KvBudget.Parse(b),
        _ => null,
    };
}
