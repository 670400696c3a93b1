using Mha2Mla.Sweeps;

namespace Mha2Mla.Cli.Commands;

/// <summary>`mha2mla sweep MODEL -o DIR`: a grid of conversions, a table and a plot.</summary>
public static class SweepCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "A Hugging Face checkpoint directory, a hub id (org/name[@revision]) in the local hub cache, or 'demo'" };
        var output = new Option<string>("--output", "-o") { Description = "The sweep directory: one converted OUT per point, results.csv, results.json, sweep.svg", Required = true };
        var recipe = new Option<string?>("--config") { Description = "A YAML recipe of these options (lists as [4, 8, 16] or \"4,8,16\"); flags override it" };
        var keep = new Option<bool>("--keep-checkpoints") { Description = "Keep each point's converted weights (false: only its reports, for big grids)", DefaultValueFactory = _ => true };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace DIR when it holds another grid (the same command resumes without it)" };
        var compare = new Option<string?>("--compare")
        {
            Description = "Checkpoints made elsewhere to evaluate on --eval-data and plot beside the points, comma-separated: a DeepSeek-V3 model from another " +
                          "converter, a point fine-tuned with scripts/recipes/fsdp, any model of the same vocabulary (rows compare-<folder>)",
        };
        var grid = new SweepGridArguments();
        var shared = new ConversionArguments();

        var command = new Command("sweep",
            "Convert one model at every combination of the listed settings (each list comma-separated) to draw quality against KV memory: " +
            "each point is a complete convert output under DIR/<point>/ with its report; DIR/results.csv and results.json hold one row per point " +
            "(settings, KV elements/bytes/reduction, perplexity original/converted/fine-tuned, seconds) and DIR/sweep.svg plots perplexity " +
            "against KV reduction with the Pareto front. The original model is evaluated once and calibration statistics are measured once. " +
            "Killed? Run the same command again: finished points are kept. Data and fine-tune options apply to every point.")
        {
            model, output, recipe, keep, overwrite, compare,
        };
        foreach (var option in grid.All.Concat(shared.All)) command.Options.Add(option);
        command.SetAction(parsed =>
        {
            Runtime.UseThreads(parsed.GetValue(CommonOptions.Threads));
            Runtime.ReturnLargeBuffersToTheSystem();
            var points = grid.Read(parsed);
            var template = shared.Read(parsed, parsed.GetRequiredValue(model), parsed.GetRequiredValue(output), new ConversionRequest(Damping: parsed.GetValue(shared.Damping)), overwrite: false);
            Log.Information("Sweep of {Count} points: {Points}", points.Count, string.Join(", ", points.Select(p => p.Name)));
            var results = new Sweep(new SweepJob
            {
                Model = template.Model, Output = template.Output, Points = points, Template = template,
                KeepCheckpoints = parsed.GetValue(keep), Overwrite = parsed.GetValue(overwrite),
                Compare = parsed.GetValue(compare)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [],
            })
            {
                Log = message => Log.Information("{Message}", message),
                OnStep = TrainingArguments.StepLog(template.FineTune, "fine-tune "),
            }.Run();
            Log.Information("Wrote {Dir}: results.csv, results.json, sweep.svg ({Count} points)", template.Output, results.Count);
            if (parsed.GetValue(CommonOptions.Json)) JsonOutput.Write(results);
            return ExitCodes.Success;
        });
        return command;
    }
}
