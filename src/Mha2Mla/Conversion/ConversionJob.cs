using Mha2Mla.Data;
using Mha2Mla.Training;

namespace Mha2Mla.Conversion;

/// <summary>Everything `mha2mla convert` was asked to do.</summary>
public sealed record ConversionJob
{
    public required string Model { get; init; }
    public required string Output { get; init; }
    public required ConversionSettings Settings { get; init; }
    public DataOptions? Calibration { get; init; }
    public DataOptions? Evaluation { get; init; }
    public DataOptions? Training { get; init; }
    public TrainingOptions FineTune { get; init; } = new() { Steps = 0 };
    public bool Overwrite { get; init; }
}
