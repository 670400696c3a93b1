using System.CommandLine;
using System.Globalization;
using Mha2Mla.Conversion;
using Mha2Mla.Diagnostics;
using Mha2Mla.Sweeps;
using Serilog;

namespace Mha2Mla.Cli.Commands;

/// <summary>`mha2mla sweep MODEL -o DIR`: a grid of conversions, a table and a plot.</summary>
public static class SweepCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "A Hugging Face checkpoint directory, a hub id (org/name[@revision]) in the local hub cache, or 'demo'" };
        var output = new Option<string>("--output", "-o") { Description = "The sweep directory: one converted OUT per point, results.csv, results.json, sweep.svg", Required = true };
        var recipe = new Option<string?>("--config") { Description = "A YAML recipe of these options (lists as [4, 8, 16] or \"4,8,16\"); flags override it" };
        var strategies = new Option<string?>("--rope-strategy") { Description = "Strategies to try, comma-separated: 2-norm, high, low, uniform (default 2-norm)" };
        var pairs = new Option<string?>("--rope-pairs") { Description = "RoPE pairs r per KV head to try, e.g. 2,4 (default d_h/16)" };
        var ranks = new Option<string?>("--kv-rank") { Description = "Latent ranks d_kv per KV head to try, e.g. 4,8,16 (default d_h/8 when no --kv-budget)" };
        var budgets = new Option<string?>("--kv-budget") { Description = "KV budgets to try, e.g. 12.5%,25% or 64,96 (per-layer widths; see convert --help)" };
        var svds = new Option<string?>("--svd") { Description = "Factorizations to try: joint, split, activation (default joint)" };
        var keep = new Option<bool>("--keep-checkpoints") { Description = "Keep each point's converted weights (false: only its reports, for big grids)", DefaultValueFactory = _ => true };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace DIR when it holds another grid (the same command resumes without it)" };
        var shared = new ConversionArguments();

        var command = new Command("sweep",
            "Convert one model at every combination of the listed settings (each list comma-separated) to draw quality against KV memory: " +
            "each point is a complete convert output under DIR/<point>/ with its report; DIR/results.csv and results.json hold one row per point " +
            "(settings, KV elements/bytes/reduction, perplexity original/converted/fine-tuned, seconds) and DIR/sweep.svg plots perplexity " +
            "against KV reduction with the Pareto front. The original model is evaluated once and calibration statistics are measured once. " +
            "Killed? Run the same command again: finished points are kept. Data and fine-tune options apply to every point.")
        {
            model, output, recipe, strategies, pairs, ranks, budgets, svds, keep, overwrite,
        };
        foreach (var option in shared.All) command.Options.Add(option);

        command.SetAction(parsed =>
        {
            Runtime.UseThreads(parsed.GetValue(CommonOptions.Threads));
            Runtime.ReturnLargeBuffersToTheSystem();
            var points = SweepPoint.Grid(
                List(parsed.GetValue(strategies), "--rope-strategy", RopeSelection.Parse),
                List(parsed.GetValue(pairs), "--rope-pairs", Integer("--rope-pairs")),
                List(parsed.GetValue(svds), "--svd", SvdModes.Parse),
                List(parsed.GetValue(ranks), "--kv-rank", Integer("--kv-rank")),
                List(parsed.GetValue(budgets), "--kv-budget", KvBudget.Parse));
            var template = shared.Read(parsed, parsed.GetRequiredValue(model), parsed.GetRequiredValue(output), new ConversionRequest(Damping: parsed.GetValue(shared.Damping)), overwrite: false);
            Log.Information("Sweep of {Count} points: {Points}", points.Count, string.Join(", ", points.Select(p => p.Name)));
            var results = new Sweep(new SweepJob
            {
                Model = template.Model, Output = template.Output, Points = points, Template = template,
                KeepCheckpoints = parsed.GetValue(keep), Overwrite = parsed.GetValue(overwrite),
            })
            {
                Log = message => Log.Information("{Message}", message),
                OnStep = ConversionArguments.FineTuneLog(template.FineTune),
            }.Run();

            Log.Information("Wrote {Dir}: results.csv, results.json, sweep.svg ({Count} points)", template.Output, results.Count);
            if (parsed.GetValue(CommonOptions.Json))
                JsonOutput.Write(results);
            return ExitCodes.Success;
        });
        return command;
    }

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
