namespace Mha2Mla.Training;

/// <summary>What one optimizer step did; one line of metrics.jsonl.</summary>
public sealed record StepMetrics(int Step, double Loss, double LearningRate, double GradNorm, long Tokens, double TokensPerSecond, double ElapsedSeconds);

public sealed record TrainingResult(int Steps, double FirstLoss, double FinalLoss, long Tokens, double Seconds)
{
    public double TokensPerSecond => Seconds > 0 ? Tokens / Seconds : 0;
    /// <summary>Where `train` wrote the result (what --json reports); null for a conversion's fine-tune.</summary>
    public string? Output { get; init; }
}
