namespace Mha2Mla.Training;

public enum LrSchedule { Wsd, Cosine, Constant }

/// <summary>
/// Everything that decides a fine-tune. The defaults are the MHA2MLA paper's recovery fine-tune:
/// AdamW β (0.9, 0.95), eps 1e-8, weight decay 0.01, lr 1e-4, ~5 % linear warmup, then constant,
/// then "1-sqrt" decay to zero over the last ~10 %, gradient clipping at 1.0.
/// </summary>
public sealed record TrainingOptions
{
    public int Steps { get; init; } = 100;
    public double LearningRate { get; init; } = 1e-4;
    /// <summary>Sequences per micro-batch.</summary>
    public int MicroBatch { get; init; } = 4;
    /// <summary>Micro-batches whose gradients add up to one optimizer step.</summary>
    public int GradAccumulation { get; init; } = 1;
    public LrSchedule Schedule { get; init; } = LrSchedule.Wsd;
    public double WarmupFraction { get; init; } = 0.05;
    public double DecayFraction { get; init; } = 0.1;
    public double WeightDecay { get; init; } = 0.01;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double Epsilon { get; init; } = 1e-8;
    /// <summary>Global gradient-norm clip; 0 turns clipping off.</summary>
    public double ClipNorm { get; init; } = 1.0;
    public int Seed { get; init; }
    /// <summary>Train only attention projections and norms.</summary>
    public bool FreezeNonAttention { get; init; }
    /// <summary>Write a resumable checkpoint every this many steps (0: only at the end).</summary>
    public int SaveEvery { get; init; }
    /// <summary>Resumable checkpoints kept on disk; older ones are deleted.</summary>
    public int KeepLast { get; init; } = 2;
    public int LogEvery { get; init; } = 10;
    /// <summary>
    /// What the forward and backward passes compute in, under autocast; weights and optimizer
    /// state stay fp32. Null: <see cref="Models.ComputePrecision.DefaultFor"/> the model's device.
    /// </summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<Torch.ScalarType>))]
    public Torch.ScalarType? ComputeType { get; init; }

    /// <summary>
    /// The options as a run on <paramref name="device"/> uses them: <see cref="ComputeType"/>
    /// filled in, every value checked (naming the CLI flag). The one place training options are
    /// checked and defaulted; <see cref="FineTune"/> and <see cref="Trainer"/> take what it returns.
    /// </summary>
    public TrainingOptions Resolve(Torch.Device device)
    {
        void Require(bool ok, string message)
        {
            if (!ok) throw new InvalidInputException(message);
        }
        Require(Steps >= 1, $"--steps must be at least 1, not {Steps}");
        Require(LearningRate > 0 && double.IsFinite(LearningRate), $"--lr must be positive, not {LearningRate}");
        Require(MicroBatch >= 1, $"--batch must be at least 1, not {MicroBatch}");
        Require(GradAccumulation >= 1, $"--grad-accum must be at least 1, not {GradAccumulation}");
        Require(WarmupFraction is >= 0 and < 1, $"--warmup must be a fraction in [0, 1), not {WarmupFraction}");
        Require(DecayFraction is >= 0 and <= 1, $"--decay must be a fraction in [0, 1], not {DecayFraction}");
        Require(WarmupFraction + DecayFraction <= 1, $"--warmup {WarmupFraction} and --decay {DecayFraction} add up to more than the whole run");
        Require(WeightDecay >= 0, $"--weight-decay must not be negative, not {WeightDecay}");
        Require(ClipNorm >= 0, $"--clip must not be negative, not {ClipNorm}");
        Require(SaveEvery >= 0, $"--save-every must not be negative, not {SaveEvery}");
        Require(KeepLast >= 1, $"--keep must be at least 1, not {KeepLast}");
        Require(LogEvery >= 1, $"--log-every must be at least 1, not {LogEvery}");
        // f16 needs loss scaling against gradient underflow, which this trainer does not do.
        Require(ComputeType is null or Torch.ScalarType.BFloat16 or Torch.ScalarType.Float32,
            "--dtype f16: training computes in bf16 or f32 (f16 would need loss scaling); use --dtype bf16");
        return this with { ComputeType = Models.ComputePrecision.Resolve(ComputeType, device) };
    }

    /// <summary>The compute dtype of options <see cref="Resolve"/> returned.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Torch.ScalarType ResolvedComputeType =>
        ComputeType ?? throw new InvalidOperationException("training options are run only as TrainingOptions.Resolve returns them");
}
