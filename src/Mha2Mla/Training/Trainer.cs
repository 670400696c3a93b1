using System.Diagnostics;
using System.Text.Json;

namespace Mha2Mla.Training;

/// <summary>
/// The fine-tuning loop: for each optimizer step, <see cref="TrainingOptions.GradAccumulation"/>
/// micro-batches of next-token cross-entropy (averaged over every target token of the step),
/// global-norm clipping, one AdamW update at the scheduled learning rate. Writes metrics.jsonl
/// and resumable checkpoints (complete checkpoints: <paramref name="files"/> go with the weights)
/// into the output directory.
/// </summary>
public sealed class Trainer(LlamaModel model, BatchStream batches, TrainingOptions options, string outDirectory, CheckpointFiles files)
{
    /// <summary>Called after every step (for logs and progress).</summary>
    public Action<StepMetrics>? OnStep { get; init; }

    /// <summary>What the run started from (a checkpoint path, or --init CONFIG); a resume must start from the same.</summary>
    public string StartedFrom { get; init; } = "";

    /// <summary>When OUT is an in-place run: made to exist at the first write, and told when a checkpoint makes the run worth keeping.</summary>
    public OutputDirectory? Output { get; init; }

    // What the forward and backward passes compute in under autocast (weights and AdamW state stay fp32).
    private readonly ScalarType computeType = options.ResolvedComputeType;

    public static IEnumerable<(string Name, Tensor Param)> TrainableParameters(LlamaModel model, bool freezeNonAttention) =>
        model.NamedParameters().Where(p => !freezeNonAttention || p.Name.Contains($".{DecoderLayer.AttentionName}.") || p.Name.EndsWith("norm.weight", StringComparison.Ordinal));

    public TrainingResult Run(bool resume)
    {
        var checkpoint = resume ? ResumableCheckpoint.Latest(outDirectory) : null;
        if (resume && checkpoint is null)
            throw new InvalidInputException($"--resume: {ResumableCheckpoint.Root(outDirectory)} holds no complete checkpoint to resume from");
        var trainable = TrainableParameters(model, options.FreezeNonAttention).ToList();
        foreach (var (_, param) in trainable) param.requires_grad_();
        using var optimizer = new AdamW(trainable, options);

        var state = checkpoint is null ? new TrainingState(0, 0, 0, double.NaN, 0, 0, OptionsFingerprint(), DataFingerprint(), StartedFrom, DataFiles.Fingerprint(batches.Data.Path)) : Restore(checkpoint, optimizer);
        batches.Seek(state.DataPosition);

        var metricsPath = Path.Combine(outDirectory, "metrics.jsonl");
        if (resume) KeepMetricsUpTo(metricsPath, state.Step); // the steps after the checkpoint run again
        // Opened after the first step: a run that fails on its data or weights writes nothing.
        StreamWriter? opened = null;
        StreamWriter Metrics()
        {
            if (opened is not null) return opened;
            Output?.BeginWriting();
            Directory.CreateDirectory(outDirectory);
            return opened = new StreamWriter(metricsPath, append: resume);
        }
        var clock = Stopwatch.StartNew();
        var (firstLoss, tokens, lastLoss) = (state.FirstLoss, state.Tokens, double.NaN);
        try
        {
            for (var step = state.Step + 1; step <= options.Steps; step++)
            {
                var lr = LearningRate.At(step, options);
                var stepClock = Stopwatch.StartNew();
                var (loss, stepTokens) = AccumulateGradients();
                var gradNorm = GradientClipping.ClipByGlobalNorm(optimizer.Parameters, options.ClipNorm);
                optimizer.Step(lr);
                optimizer.ZeroGrad();

                if (double.IsNaN(firstLoss)) firstLoss = loss;
                lastLoss = loss;
                tokens += stepTokens;
                var record = new StepMetrics(step, loss, lr, gradNorm, stepTokens, stepTokens / stepClock.Elapsed.TotalSeconds, state.Seconds + clock.Elapsed.TotalSeconds);
                var metrics = Metrics();
                metrics.WriteLine(JsonSerializer.Serialize(record, JsonFormat.Lines));
                metrics.Flush();
                OnStep?.Invoke(record);
                if (!double.IsFinite(loss) || !double.IsFinite(gradNorm))
                    throw new InvalidInputException($"the {(double.IsFinite(loss) ? "gradient norm" : "loss")} became {(double.IsFinite(loss) ? gradNorm : loss)} at step {step}; lower --lr, or check the data and the weights");

                if (options.SaveEvery > 0 && step % options.SaveEvery == 0 && step < options.Steps)
                {
                    ResumableCheckpoint.Save(outDirectory, model, files, optimizer,
                        state with { Step = step, DataPosition = batches.Position, OptimizerSteps = optimizer.StepCount, FirstLoss = firstLoss, Tokens = tokens, Seconds = state.Seconds + clock.Elapsed.TotalSeconds },
                        options.KeepLast);
                    Output?.ReleasePrevious(); // the run can now be resumed: the OUT --overwrite replaces can go
                }
            }
        }
        finally
        {
            opened?.Dispose();
        }
        foreach (var (_, param) in trainable) param.requires_grad_(false);
        var seconds = state.Seconds + clock.Elapsed.TotalSeconds;
        return new TrainingResult(options.Steps, firstLoss, double.IsNaN(lastLoss) ? firstLoss : lastLoss, tokens, seconds);
    }

    private (double Loss, long Tokens) AccumulateGradients()
    {
        var micro = new List<Batch>(options.GradAccumulation);
        for (var i = 0; i < options.GradAccumulation; i++) micro.Add(batches.Next());
        var stepTokens = micro.Sum(b => b.Tokens);
        double loss = 0;
        foreach (var batch in micro)
        {
            using var scope = torch.NewDisposeScope();
            Tensor logits;
            using (ComputePrecision.Autocast(model.Device, computeType))
                logits = model.Forward(batch.Inputs);
            var (b, t, v) = (logits.size(0), logits.size(1), logits.size(2));
            var predictions = logits.narrow(1, 0, t - 1).reshape(b * (t - 1), v).to(ScalarType.Float32);
            var targets = batch.Targets.reshape(b * (t - 1));
            // Sum over tokens, divided by the step's token count: every target token weighs the same.
            var microLoss = torch.nn.functional.cross_entropy(predictions, targets, torch.nn.functional.Reduction.Sum) / stepTokens;
            microLoss.backward();
            loss += microLoss.item();
            batch.Dispose();
        }
        return (loss, stepTokens);
    }

    private TrainingState Restore(string checkpoint, AdamW optimizer)
    {
        var state = ResumableCheckpoint.ReadState(checkpoint);
        if (state.Step >= options.Steps)
            throw new InvalidInputException($"--resume: {checkpoint} is at step {state.Step}, not before --steps {options.Steps}; the run is done (or its state.json is damaged)");
        var differences = Differences(state.Options, OptionsFingerprint()).ToList();
        if (state.Data is { } data) differences.AddRange(Differences(data, DataFingerprint()).Select(d => "data " + d));
        if (state.DataContents is { } contents && contents != DataFiles.Fingerprint(batches.Data.Path))
            differences.Add($"the contents of {batches.Data.Path} (changed since the checkpoint was written)");
        if (state.Model is { Length: > 0 } from && from != StartedFrom) differences.Add($"the starting model ({from} then, {StartedFrom} now)");
        if (differences.Count > 0)
            throw new InvalidInputException($"--resume: {checkpoint} was trained with other options: {string.Join("; ", differences)}; resume with the same ones, or start afresh with --overwrite");
        using (var weights = WeightStore.Open(checkpoint))
        {
            var saved = WeightSource.For(weights, model.Config, Device.CPU);   // a DeepSeek-V3 model was checkpointed as DeepSeek-V3
            foreach (var (name, param) in model.NamedParameters())
            {
                using var tensor = saved.Take(name, param.shape);
                param.copy_(tensor);
            }
        }
        using (var moments = SafetensorsFile.Open(Path.Combine(checkpoint, "optimizer.safetensors")))
            optimizer.Restore(moments, state.OptimizerSteps);
        return state;
    }

    // "lr 0.001 then, 0.002 now" for each field two fingerprints (JSON objects) disagree on.
    private static IEnumerable<string> Differences(string then, string now)
    {
        if (then == now) yield break;
        var (a, b) = (System.Text.Json.Nodes.JsonNode.Parse(then)?.AsObject(), System.Text.Json.Nodes.JsonNode.Parse(now)?.AsObject());
        if (a is null || b is null) { yield return $"{then} then, {now} now"; yield break; }
        foreach (var key in a.Select(p => p.Key).Union(b.Select(p => p.Key)))
        {
            var (x, y) = (a[key]?.ToJsonString() ?? "unset", b[key]?.ToJsonString() ?? "unset");
            if (x != y) yield return $"{key} {x} then, {y} now";
        }
    }

    // The options that decide the result; a resumed run must use the same ones.
    private string OptionsFingerprint() =>
        JsonSerializer.Serialize(options with { SaveEvery = 0, KeepLast = 1, LogEvery = 1 });

    // The data that decides the batches; a resumed run must read the same.
    private string DataFingerprint() => JsonSerializer.Serialize(batches.Data);

    private static void KeepMetricsUpTo(string path, int step)
    {
        if (!File.Exists(path)) return;
        var kept = File.ReadAllLines(path).TakeWhile(line =>
        {
            try { return JsonDocument.Parse(line).RootElement.GetProperty("step").GetInt32() <= step; }
            catch (JsonException) { return false; } // a line cut short by the kill
        }).ToList();
        AtomicFile.WriteAllText(path, kept.Count == 0 ? "" : string.Join("\n", kept) + "\n");
    }

}
