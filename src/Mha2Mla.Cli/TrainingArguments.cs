using Mha2Mla.Training;

namespace Mha2Mla.Cli;

/// <summary>The fine-tune options, shared by `train` and (later) `convert`. Defaults: the MHA2MLA recipe.</summary>
public sealed class TrainingArguments
{
    private static readonly TrainingOptions Defaults = new();

    public Option<int> Steps { get; }
    public Option<double> Lr { get; } = new("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => Defaults.LearningRate };
    public Option<int> Batch { get; } = new("--batch") { Description = "Sequences per micro-batch", DefaultValueFactory = _ => Defaults.MicroBatch };
    public Option<int> GradAccum { get; } = new("--grad-accum") { Description = "Micro-batches per optimizer step", DefaultValueFactory = _ => Defaults.GradAccumulation };
    public Option<string> Schedule { get; } = new("--schedule") { Description = "wsd (warmup, constant, 1-sqrt decay), cosine or constant", DefaultValueFactory = _ => "wsd" };
    public Option<double> Warmup { get; } = new("--warmup") { Description = "Fraction of steps for linear warmup", DefaultValueFactory = _ => Defaults.WarmupFraction };
    public Option<double> Decay { get; } = new("--decay") { Description = "Fraction of steps for the final 1-sqrt decay to zero (wsd)", DefaultValueFactory = _ => Defaults.DecayFraction };
    public Option<double> WeightDecay { get; } = new("--weight-decay") { Description = "AdamW weight decay (not applied to norms and biases)", DefaultValueFactory = _ => Defaults.WeightDecay };
    public Option<double> Clip { get; } = new("--clip") { Description = "Clip gradients to this global norm (0: off)", DefaultValueFactory = _ => Defaults.ClipNorm };
    public Option<int> Seed { get; } = new("--seed") { Description = "Seed for data order and --init", DefaultValueFactory = _ => 0 };
    public Option<bool> FreezeNonAttention { get; } = new("--freeze-non-attention") { Description = "Train only attention projections and norms" };
    public Option<int> SaveEvery { get; } = new("--save-every") { Description = "Resumable checkpoint every N steps (0: none)", DefaultValueFactory = _ => 0 };
    public Option<int> Keep { get; } = new("--keep") { Description = "Resumable checkpoints to keep", DefaultValueFactory = _ => Defaults.KeepLast };
    public Option<int> LogEvery { get; } = new("--log-every") { Description = "Log a line every N steps", DefaultValueFactory = _ => Defaults.LogEvery };
    public Option<string?> DType { get; }

    /// <param name="defaultSteps">train: 100; convert: 0, which means no fine-tune.</param>
    public TrainingArguments(int defaultSteps = 100)
    {
        Steps = new Option<int>("--steps")
        {
            Description = defaultSteps == 0 ? "Fine-tune steps after conversion (0: no fine-tune)" : "Optimizer steps",
            DefaultValueFactory = _ => defaultSteps,
        };
        Schedule.AcceptOnlyFromAmong("wsd", "cosine", "constant");
        DType = DTypeOptions.Compute(defaultSteps == 0
            ? "The evaluations run under autocast in it, and so does the fine-tune: " + DTypeOptions.TrainingCompute + " Calibration and the SVDs are always fp32."
            : DTypeOptions.TrainingCompute);
    }

    public IEnumerable<Option> All => [Steps, Lr, Batch, GradAccum, Schedule, Warmup, Decay, WeightDecay, Clip, Seed, FreezeNonAttention, SaveEvery, Keep, LogEvery, DType];

    public TrainingOptions Read(ParseResult parsed) => new()
    {
        Steps = parsed.GetValue(Steps),
        LearningRate = parsed.GetValue(Lr),
        MicroBatch = parsed.GetValue(Batch),
        GradAccumulation = parsed.GetValue(GradAccum),
        Schedule = parsed.GetValue(Schedule) switch { "cosine" => LrSchedule.Cosine, "constant" => LrSchedule.Constant, _ => LrSchedule.Wsd },
        WarmupFraction = parsed.GetValue(Warmup),
        DecayFraction = parsed.GetValue(Decay),
        WeightDecay = parsed.GetValue(WeightDecay),
        ClipNorm = parsed.GetValue(Clip),
        Seed = parsed.GetValue(Seed),
        FreezeNonAttention = parsed.GetValue(FreezeNonAttention),
        SaveEvery = parsed.GetValue(SaveEvery),
        KeepLast = parsed.GetValue(Keep),
        LogEvery = parsed.GetValue(LogEvery),
        ComputeType = DTypeOptions.Parse(parsed.GetValue(DType)),
    };

    /// <summary>
    /// A fine-tune's progress (train's, or convert's and sweep's recovery fine-tune, whose lines
    /// start "fine-tune "): a log line at the first step, every --log-every steps and the last,
    /// and each step to <paramref name="report"/> (train's bar).
    /// </summary>
    public static Action<StepMetrics> StepLog(TrainingOptions options, string prefix = "", Action<long>? report = null) => m =>
    {
        report?.Invoke(m.Step);
        if (m.Step == 1 || m.Step % options.LogEvery == 0 || m.Step == options.Steps)
            Serilog.Log.Information(prefix + "step {Step}/{Steps} loss {Loss:F4} lr {Lr:E2} grad-norm {Norm:F3} {Rate:F0} tokens/s",
                m.Step, options.Steps, m.Loss, m.LearningRate, m.GradNorm, m.TokensPerSecond);
    };
}
