using System.Text.Json;
using Mha2Mla.Conversion;
using Mha2Mla.Training;

namespace Mha2Mla.Sweeps;

/// <summary>
/// `mha2mla sweep`: one conversion per point of a grid, each a complete OUT under
/// DIR/&lt;point&gt;/ with its report, then DIR/results.csv, results.json and sweep.svg (rewritten
/// after every point). The original model is evaluated once and each layer's calibration
/// statistics are measured once for all points. DIR/sweep.json records the grid: the same command
/// run again skips the finished points (a point is finished once its directory exists — each is
/// committed whole), a different grid is refused unless --overwrite. Checkpoints given to
/// --compare follow the points as rows of their own.
/// </summary>
public sealed class Sweep(SweepJob job)
{
    public Action<string>? Log { get; init; }
    public Action<StepMetrics>? OnStep { get; init; }

    public IReadOnlyList<SweepResult> Run()
    {
        var modelDirectory = ModelSource.Resolve(job.Model);
        var (_, original) = Checkpoint.ReadConfig(modelDirectory);
        if (original.Mla is not null)
            throw new InvalidInputException($"{job.Model} is already MLA{(original.IsDeepSeekV3 ? " (DeepSeek-V3)" : "")}: a sweep converts the original model; " +
                                            "sweep that one and pass this one to --compare to place it beside the points");
        var compared = ComparedCheckpoint.Resolve(job.Compare, original, modelDirectory, job.Template.Evaluation is not null);
        // Claimed first: that puts back a sweep an interrupted --overwrite had set aside, so the old command finds its points.
        using var directory = OutputDirectory.InPlaceRun(job.Output, [modelDirectory, .. compared.Select(c => c.Directory)]);
        var path = directory.Path;
        var jobs = job.Points.Select(p => job.Template with { Model = modelDirectory, Output = Path.Combine(path, p.Name), Settings = p.Request(job.Template.Settings) }).ToList();
        List<ConversionPlan> plans;
        using (var source = Checkpoint.Open(modelDirectory))
            plans = jobs.Select(j => j.Plan(source.Config)).ToList(); // every point's settings fail now, not after hours

        var grid = Grid();
        var gridFile = Path.Combine(path, "sweep.json");
        var resume = File.Exists(gridFile) && UserFiles.ReadText(gridFile) == grid;
        if (Directory.Exists(path) && !resume && !job.Overwrite)
            throw new InvalidInputException(File.Exists(gridFile)
                ? $"{job.Output} holds a sweep of another grid or other options; run the same command to finish it, pass --overwrite to replace it, or choose another -o"
                : $"{job.Output} already exists and is not a sweep; pass --overwrite to replace it, or choose another -o");

        directory.Prepare(overwrite: job.Overwrite && !resume, resume);
        directory.BeginWriting();
        AtomicFile.WriteAllText(gridFile, grid);
        using var calibration = new CalibrationCache(keepCovariance: plans.Any(p => p.Settings.NeedsCovariance), keepRotations: plans.Any(p => p.Settings.RopeCompensation));
        var results = new List<SweepResult>();
        for (var i = 0; i < jobs.Count; i++)
        {
            var (point, pointJob) = (job.Points[i], jobs[i]);
            var report = ConversionReport.Read(pointJob.Output);
            if (report is not null) Log?.Invoke($"point {i + 1}/{jobs.Count} {point.Name}: finished earlier, kept");
            else
            {
                Log?.Invoke($"point {i + 1}/{jobs.Count} {point.Name}");
                report = new ConversionPipeline(pointJob)
                {
                    Log = Log, OnStep = OnStep, Calibration = calibration,
                    OriginalPerplexity = results.Select(r => r.PerplexityOriginal).FirstOrDefault(p => p is not null),
                }.Run();
                if (!job.KeepCheckpoints) KeepOnlyReports(pointJob.Output);
                directory.ReleasePrevious(); // a point is complete: the sweep this one replaces can go
                Diagnostics.CrashPoints.Here("after-sweep-point");
            }
            results.Add(SweepResult.From(point.Name, report));
            WriteResults(path, results);
        }
        // Evaluated on every run (they are not part of the grid, so one can be added to a finished sweep).
        foreach (var checkpoint in compared)
        {
            Log?.Invoke($"{checkpoint.Name}: {checkpoint.Directory}");
            results.Add(checkpoint.Evaluate(original, job.Template.Evaluation!, job.Template.Device, job.Template.ComputeType,
                results.Select(r => r.PerplexityOriginal).FirstOrDefault(p => p is not null), Log));
            WriteResults(path, results);
        }
        directory.Commit();
        return results;
    }

    // What makes two runs the same sweep: the points, every shared option and the data's contents, as JSON.
    private string Grid() => JsonSerializer.Serialize(new
    {
        model = job.Model,
        points = job.Points.Select(p => p.Name),
        calibration = job.Template.Calibration,
        evaluation = job.Template.Evaluation,
        training = job.Template.Training,
        fine_tune = job.Template.FineTune,
        save_dtype = job.Template.SaveDType?.ToString(),
        svd_damping = job.Template.Settings.Damping,
        // What the data files hold, not only their names: a resumed sweep over edited data would mix two datasets.
        data_contents = new[] { job.Template.Calibration, job.Template.Evaluation, job.Template.Training }
            .Select(d => d is null ? null : Data.DataFiles.Fingerprint(d.Path)),
    }, JsonFormat.Options);

    // --keep-checkpoints false: a point keeps its reports only (big grids of big models).
    private static void KeepOnlyReports(string directory)
    {
        foreach (var file in Directory.EnumerateFiles(directory))
            if (!ConversionReport.FileNames.Contains(Path.GetFileName(file))) File.Delete(file);
    }

    private void WriteResults(string directory, IReadOnlyList<SweepResult> results)
    {
        AtomicFile.WriteAllText(Path.Combine(directory, "results.csv"), SweepResult.Csv(results));
        AtomicFile.WriteAllText(Path.Combine(directory, "results.json"), JsonSerializer.Serialize(results, JsonFormat.Options));
        AtomicFile.WriteAllText(Path.Combine(directory, "sweep.svg"), SweepPlot.Svg(results, $"mha2mla sweep of {job.Model}"));
    }
}

/// <summary>What `mha2mla sweep` was asked: the points, and one convert job whose data and fine-tune options every point shares.</summary>
public sealed record SweepJob
{
    public required string Model { get; init; }
    public required string Output { get; init; }
    public required IReadOnlyList<SweepPoint> Points { get; init; }
    /// <summary>Calibration, evaluation, training data, fine-tune, save dtype and the settings no point varies (SVD damping) for every point; its Model and Output are replaced, and each point sets its own strategy, pairs, SVD and width.</summary>
    public required ConversionJob Template { get; init; }
    public bool KeepCheckpoints { get; init; } = true;
    public bool Overwrite { get; init; }
    /// <summary>Checkpoints made elsewhere to evaluate and plot beside the points (<see cref="ComparedCheckpoint"/>).</summary>
    public IReadOnlyList<string> Compare { get; init; } = [];
}
