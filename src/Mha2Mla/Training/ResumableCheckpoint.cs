using System.Text.Json;

namespace Mha2Mla.Training;

/// <summary>Where a run stands: enough, with the fp32 weights and optimizer moments, to continue it exactly.</summary>
/// <param name="Options">The options that decide the result; <paramref name="Data"/> the data options; <paramref name="Model"/> what the run started from. A resume must match all three.</param>
public sealed record TrainingState(int Step, long DataPosition, long OptimizerSteps, double FirstLoss, long Tokens, double Seconds, string Options,
    string? Data = null, string? Model = null, string? DataContents = null);

/// <summary>
/// Resumable checkpoints under OUT/checkpoints/step-NNNNNNNN: the model as a complete fp32
/// Hugging Face checkpoint (what every command reads), AdamW moments and state.json. Each is written into a ".partial" directory and renamed when complete, so a run
/// killed mid-write (even by kill -9) leaves the previous checkpoint intact and loadable; only
/// the newest <c>keep</c> are kept.
/// </summary>
public static class ResumableCheckpoint
{
    private const string Prefix = "step-";
    private const string PartialSuffix = ".partial";

    /// <summary>For tests of crash safety: die (as kill -9 would) midway through writing this step's checkpoint.</summary>
    private static readonly int? CrashAtStep =
        int.TryParse(Environment.GetEnvironmentVariable("MHA2MLA_TEST_CRASH_DURING_CHECKPOINT"), out var s) ? s : null;

    public static string Root(string outDirectory) => Path.Combine(outDirectory, "checkpoints");

    public static void Save(string outDirectory, LlamaModel model, CheckpointFiles files, AdamW optimizer, TrainingState state, int keep)
    {
        var root = Directory.CreateDirectory(Root(outDirectory)).FullName;
        var final = Path.Combine(root, $"{Prefix}{state.Step:D8}");
        var partial = final + PartialSuffix;
        if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
        Directory.CreateDirectory(partial);

        model.Save(partial, ScalarType.Float32, files);
        if (CrashAtStep == state.Step) Environment.FailFast("test: crashing while a checkpoint is half written");
        SafetensorsWriter.Write(Path.Combine(partial, "optimizer.safetensors"), optimizer.StateTensors(), ScalarType.Float32);
        File.WriteAllText(Path.Combine(partial, "state.json"), JsonSerializer.Serialize(state));

        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(partial, final);
        foreach (var old in Complete(root).SkipLast(keep)) Directory.Delete(old, recursive: true);
    }

    /// <summary>The newest complete checkpoint directory, or null; half-written ones are removed.</summary>
    public static string? Latest(string outDirectory)
    {
        var root = Root(outDirectory);
        if (!Directory.Exists(root)) return null;
        foreach (var partial in Directory.GetDirectories(root, $"{Prefix}*{PartialSuffix}")) Directory.Delete(partial, recursive: true);
        return Complete(root).LastOrDefault();
    }

    /// <summary>state.json, checked: a damaged one (truncated, edited) is an input error naming what to do, never a crash.</summary>
    public static TrainingState ReadState(string checkpoint)
    {
        var path = Path.Combine(checkpoint, "state.json");
        TrainingState? state;
        try
        {
            state = JsonSerializer.Deserialize<TrainingState>(UserFiles.ReadText(path));
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{path}: damaged ({e.Message.Split('\n')[0]}); delete {checkpoint} to resume from the checkpoint before it, or start afresh with --overwrite");
        }
        if (state is null || state.Step < 1 || state.DataPosition < 0 || state.OptimizerSteps < 0 || state.Tokens < 0 || state.Options is null)
            throw new InvalidInputException($"{path}: damaged (step {state?.Step}, data position {state?.DataPosition}); delete {checkpoint} to resume from the checkpoint before it, or start afresh with --overwrite");
        return state;
    }

    private static List<string> Complete(string root) =>
        Directory.GetDirectories(root, $"{Prefix}*")
            .Where(d => !d.EndsWith(PartialSuffix, StringComparison.Ordinal) && File.Exists(Path.Combine(d, "state.json")))
            .Order(StringComparer.Ordinal).ToList();
}
