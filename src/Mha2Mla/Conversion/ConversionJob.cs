using Mha2Mla.Data;
using Mha2Mla.Models;
using Mha2Mla.Training;
using Mha2Mla.Configs;

namespace Mha2Mla.Conversion;

/// <summary>Everything `mha2mla convert` was asked to do.</summary>
public sealed record ConversionJob
{
    public required string Model { get; init; }
    public required string Output { get; init; }
    public ConversionRequest Settings { get; init; } = new();
    public DataOptions? Calibration { get; init; }
    public DataOptions? Evaluation { get; init; }
    public DataOptions? Training { get; init; }
    /// <summary>The recovery fine-tune; 0 steps (the default) means none.</summary>
    public TrainingOptions FineTune { get; init; } = new() { Steps = 0 };
    /// <summary>The dtype of the written weights; null: the input's.</summary>
    public Torch.ScalarType? SaveDType { get; init; }
    public bool Overwrite { get; init; }
    /// <summary>What the evaluations and the fine-tune compute in; null: <see cref="ComputePrecision.DefaultFor"/> the device. Calibration and the SVDs are always fp32.</summary>
    public Torch.ScalarType? ComputeType { get; init; }
    public Torch.Device Device { get; init; } = Torch.Device.CPU;

    /// <summary>The compute dtype this job runs in.</summary>
    public Torch.ScalarType ResolvedComputeType => ComputePrecision.Resolve(ComputeType, Device);

    /// <summary>The fine-tune as it runs (and is reported): <see cref="FineTune"/> in this job's compute dtype.</summary>
    public TrainingOptions ResolvedFineTune => FineTune with { ComputeType = ResolvedComputeType };

    /// <summary>Checks the whole job against the model before any work and returns the settings to run.</summary>
    public ConversionSettings Validate(ModelConfig config)
    {
        if (config.Mla is not null) throw new InvalidInputException("the model is already MLA; convert the original checkpoint");
        var settings = Settings.Resolve(config);
        if (settings.Strategy == RopeStrategy.TwoNorm && Calibration is null)
            throw new InvalidInputException("--rope-strategy 2-norm ranks frequencies on calibration data: give --calib-data (or choose high, low or uniform)");
        if (settings.LatentNorm && Calibration is null)
            throw new InvalidInputException("--latent-norm sets the norm's weight from the latent's RMS on calibration data: give --calib-data");
        if (settings.Svd == SvdMode.Activation && Calibration is null)
            throw new InvalidInputException("--svd activation fits the factors to the layers' inputs on calibration data: give --calib-data (or choose --svd joint or split)");
        foreach (var (data, lengthFlag, countFlag) in new[] { (Calibration, "--calib-seq-len", "--calib-samples"), (Evaluation, "--seq-len", "--max-sequences"), (Training, "--seq-len", "--max-sequences") })
        {
            data?.Check(lengthFlag, countFlag);
            if (data?.SeqLen > config.MaxPositionEmbeddings)
                Diagnostics.Warnings.Emit($"{lengthFlag} {data.SeqLen} is more than the model's max_position_embeddings ({config.MaxPositionEmbeddings}); positions past it are extrapolated");
        }
        if (FineTune.Steps < 0) throw new InvalidInputException($"--steps must not be negative, not {FineTune.Steps}");
        var fineTune = ResolvedFineTune;   // refuses f16 on CPU before any work
        if (FineTune.Steps > 0)
        {
            fineTune.Validate();
            if (Training is null)
                throw new InvalidInputException("--steps > 0 fine-tunes the converted model and needs --train-data (or pass --steps 0)");
        }
        return settings;
    }
}
