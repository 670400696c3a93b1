using Mha2Mla.Training;

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

    /// <summary>
    /// The job as it runs on <paramref name="config"/>'s model: every default filled in and every
    /// value checked before any work, in this one place (the data sets' windows, the fine-tune's
    /// options, the compute dtype, the conversion settings).
    /// </summary>
    public ConversionPlan Plan(ModelConfig config)
    {
        if (config.Mla is not null) throw new InvalidInputException("the model is already MLA; convert the original checkpoint");
        var settings = Settings.Resolve(config);
        if (settings.Strategy == RopeStrategy.TwoNorm && Calibration is null)
            throw new InvalidInputException("--rope-strategy 2-norm ranks frequencies on calibration data: give --calib-data (or choose high, low or uniform)");
        if (settings.LatentNorm && Calibration is null)
            throw new InvalidInputException("--latent-norm sets the norm's weight from the latent's RMS on calibration data: give --calib-data");
        if (settings.RopeCompensation && Calibration is null)
            throw new InvalidInputException("--rope-compensation measures the rotations queries see on calibration data: give --calib-data");
        if (settings.KvBalance && Calibration is null)
            throw new InvalidInputException("--kv-balance measures the key and value norms on calibration data: give --calib-data");
        if (settings.Svd == SvdMode.Activation && Calibration is null)
            throw new InvalidInputException("--svd activation fits the factors to the layers' inputs on calibration data: give --calib-data (or choose --svd joint or split)");
        DataOptions? Resolve(DataOptions? data, string lengthFlag, string countFlag)
        {
            var resolved = data?.Resolve(config, lengthFlag, countFlag);
            if (data?.SeqLen > config.MaxPositionEmbeddings)
                Diagnostics.Warnings.Emit($"{lengthFlag} {data.SeqLen} is more than the model's max_position_embeddings ({config.MaxPositionEmbeddings}); positions past it are extrapolated");
            return resolved;
        }
        var (calibration, evaluation, training) = (Resolve(Calibration, "--calib-seq-len", "--calib-samples"),
            Resolve(Evaluation, "--seq-len", "--max-sequences"), Resolve(Training, "--seq-len", "--max-sequences"));
        if (FineTune.Steps < 0) throw new InvalidInputException($"--steps must not be negative, not {FineTune.Steps}");
        var computeType = ComputePrecision.Resolve(ComputeType, Device);   // refuses f16 on CPU before any work
        var fineTune = FineTune with { ComputeType = computeType };
        if (FineTune.Steps > 0)
        {
            fineTune = fineTune.Resolve(Device);
            if (Training is null)
                throw new InvalidInputException("--steps > 0 fine-tunes the converted model and needs --train-data (or pass --steps 0)");
        }
        return new ConversionPlan(settings, calibration, evaluation, training, fineTune, computeType);
    }
}

/// <summary>
/// A conversion as it runs: the settings, each data set with its window, the fine-tune (0 steps:
/// none) and the dtype the evaluations and the fine-tune compute in, all resolved for the model.
/// </summary>
public sealed record ConversionPlan(ConversionSettings Settings, DataOptions? Calibration, DataOptions? Evaluation, DataOptions? Training,
    TrainingOptions FineTune, Torch.ScalarType ComputeType);
