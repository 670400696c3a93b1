namespace Mha2Mla.Cli;

/// <summary>
/// The options `convert` and `sweep` share: calibration, evaluation and fine-tune data, the
/// fine-tune itself, SVD damping and the written dtype. Read into a <see cref="ConversionJob"/>
/// that still lacks its settings (each command adds its own).
/// </summary>
public sealed class ConversionArguments
{
    public Option<double> Damping { get; } = new("--svd-damping")
    {
        Description = "activation: λ in XᵀX/n + λ·mean(diag)·I, which keeps the calibration covariance invertible (0 to 100)",
        DefaultValueFactory = _ => ConversionSettings.DefaultDamping,
    };
    public DataArguments Data { get; } = new();
    public DataSetArguments Calibration { get; } = new("--calib-data", "Calibration data for 2-norm, rorope, --svd activation, --latent-norm, --kv-balance and --rope-compensation",
        seqLen: new Option<int?>("--calib-seq-len") { Description = "Tokens per calibration sample", DefaultValueFactory = _ => 512 },
        maxSequences: new Option<int?>("--calib-samples") { Description = "Calibration samples", DefaultValueFactory = _ => 16 });
    public DataSetArguments Evaluation { get; }
    public DataSetArguments Training { get; }
    public Option<string?> SaveDType { get; } = DTypeOptions.SaveDType();
    public TrainingArguments FineTune { get; } = new(defaultSteps: 0);

    public ConversionArguments()
    {
        // One window flag for the evaluation and fine-tune data.
        var seqLen = DataSetArguments.DefaultSeqLen(" for --eval-data and --train-data");
        Evaluation = new("--eval-data", "Data to measure perplexity on: original, converted, fine-tuned", seqLen: seqLen);
        Training = new("--train-data", "Fine-tune data (with --steps > 0)", seqLen: seqLen);
    }

    public IEnumerable<Option> All => [Damping, .. Calibration.All, .. Evaluation.All, Training.Path, .. Data.All, SaveDType, .. FineTune.All];

    public ConversionJob Read(ParseResult parsed, string model, string output, ConversionRequest settings, bool overwrite) => new()
    {
        Model = model,
        Output = output,
        Settings = settings,
        Calibration = Data.Read(parsed, Calibration),
        Evaluation = Data.Read(parsed, Evaluation),
        Training = Data.Read(parsed, Training),
        FineTune = FineTune.Read(parsed),
        SaveDType = DTypeOptions.Parse(parsed.GetValue(SaveDType)),
        ComputeType = DTypeOptions.Parse(parsed.GetValue(FineTune.DType)),
        Overwrite = overwrite,
    };
}
