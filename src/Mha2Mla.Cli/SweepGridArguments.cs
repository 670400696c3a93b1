using System.Globalization;
using Mha2Mla.Sweeps;

namespace Mha2Mla.Cli;

/// <summary>`sweep`'s grid: comma-separated lists of the settings `convert` takes one of.</summary>
public sealed class SweepGridArguments
{
    private readonly Option<string?> strategies, pairs, ranks, budgets, svds, scores, balances, compensations, folds;

    public SweepGridArguments()
    {
        strategies = new Option<string?>("--rope-strategy") { Description = "Strategies to try, comma-separated: 2-norm, high, low, uniform, rorope (default 2-norm)" };
        pairs = new Option<string?>("--rope-pairs") { Description = "RoPE pairs r per KV head to try, e.g. 2,4 (default d_h/16)" };
        ranks = new Option<string?>("--kv-rank") { Description = "Latent ranks d_kv per KV head to try, e.g. 4,8,16 (default d_h/8 when no --kv-budget)" };
        budgets = new Option<string?>("--kv-budget") { Description = "KV budgets to try, e.g. 12.5%,25% or 64,96 (per-layer widths; see convert --help)" };
        svds = new Option<string?>("--svd") { Description = "Factorizations to try: joint, split, activation (default joint)" };
        scores = new Option<string?>("--rope-score") { Description = "2-norm's score combinations to try: product, sum (default product; other strategies take no score)" };
        balances = new Option<string?>("--kv-balance") { Description = "K/V balancing to try: off, on (e.g. off,on; default off; on needs --calib-data)" };
        compensations = new Option<string?>("--rope-compensation") { Description = "RoPE compensation to try: off, on (e.g. off,on; default: convert's, on for 2-norm and rorope, off for the others; on needs --calib-data)" };
        folds = new Option<string?>("--freq-fold") { Description = "rorope's frequency folds to try, e.g. 1,2,4 (default 1; other strategies take none)" };
    }

    public IEnumerable<Option> All => [strategies, pairs, ranks, budgets, svds, scores, balances, compensations, folds];

    /// <summary>Every combination of the lists (<see cref="SweepPoint.Grid"/>).</summary>
    public IReadOnlyList<SweepPoint> Read(ParseResult parsed) => SweepPoint.Grid(
        List(parsed.GetValue(strategies), "--rope-strategy", RopeSelection.Parse),
        List(parsed.GetValue(pairs), "--rope-pairs", Integer("--rope-pairs")),
        List(parsed.GetValue(svds), "--svd", SvdModes.Parse),
        List(parsed.GetValue(ranks), "--kv-rank", Integer("--kv-rank")),
        List(parsed.GetValue(budgets), "--kv-budget", KvBudget.Parse),
        List(parsed.GetValue(scores), "--rope-score", RopeSelection.ParseScore),
        List(parsed.GetValue(balances), "--kv-balance", OnOff("--kv-balance")),
        List(parsed.GetValue(compensations), "--rope-compensation", OnOff("--rope-compensation")),
        List(parsed.GetValue(folds), "--freq-fold", Integer("--freq-fold")));

    private static Func<string, bool> OnOff(string flag) => text => text switch
    {
        "on" or "true" => true,
        "off" or "false" => false,
        _ => throw new InvalidInputException($"{flag}: '{text}' is not on or off"),
    };

    // "4,8,16": an empty item ("4,,8", "4,") is a typo, not a value to skip (a point listed twice is the grid's to refuse).
    private static List<T> List<T>(string? text, string flag, Func<string, T> parse)
    {
        if (text is null) return [];
        var items = text.Split(',', StringSplitOptions.TrimEntries);
        if (items.All(i => i.Length == 0)) throw new InvalidInputException($"{flag} lists no values; give them comma-separated (e.g. {flag} 4,8)");
        if (items.Any(i => i.Length == 0)) throw new InvalidInputException($"{flag} '{text}' has an empty item; give the values comma-separated (e.g. {flag} 4,8)");
        return items.Select(parse).ToList();
    }

    private static Func<string, int> Integer(string flag) => text =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : throw new InvalidInputException($"{flag}: '{text}' is not a whole number");
}
