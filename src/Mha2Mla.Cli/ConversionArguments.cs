using System.CommandLine;
using Mha2Mla.Conversion;
using Mha2Mla.Data;

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
    public Option<string?> CalibData { get; } = new("--calib-data") { Description = "Calibration data for 2-norm and --svd activation (same formats as --data)" };
    public Option<int> CalibSamples { get; } = new("--calib-samples") { Description = "Calibration samples", DefaultValueFactory = _ => 16 };
    public Option<int> CalibSeqLen { get; } = new("--calib-seq-len") { Description = "Tokens per calibration sample", DefaultValueFactory = _ => 512 };
    public Option<string?> EvalData { get; } = new("--eval-data") { Description = "Data to measure perplexity on: original, converted, fine-tuned" };
    public Option<string?> TrainData { get; } = new("--train-data") { Description = "Fine-tune data (with --steps > 0)" };
    public Option<int?> SeqLen { get; } = new("--seq-len") { Description = "Tokens per sequence for --eval-data and --train-data (default 2048, or max_position_embeddings if smaller)" };
    public Option<string> TextField { get; } = new("--text-field") { Description = "The .jsonl field holding text", DefaultValueFactory = _ => "text" };
    public Option<string?> SaveDType { get; } = DTypeOptions.SaveDType();
    public TrainingArguments Training { get; } = new(defaultSteps: 0);

    public IEnumerable<Option> All => [Damping, CalibData, CalibSamples, CalibSeqLen, EvalData, TrainData, SeqLen, TextField, SaveDType, .. Training.All];

    public ConversionJob Read(ParseResult parsed, string model, string output, ConversionRequest settings, bool overwrite) => new()
    {
        Model = model,
        Output = output,
        Settings = settings,
        Calibration = Calibration(parsed),
        Evaluation = Evaluation(parsed),
        Training = Data(parsed, parsed.GetValue(TrainData), parsed.GetValue(SeqLen)),
        FineTune = Training.Read(parsed),
        SaveDType = DTypeOptions.Parse(parsed.GetValue(SaveDType)),
        ComputeType = DTypeOptions.Parse(parsed.GetValue(Training.DType)),
        Overwrite = overwrite,
    };

    public DataOptions? Calibration(ParseResult parsed) => Data(parsed, parsed.GetValue(CalibData), parsed.GetValue(CalibSeqLen), parsed.GetValue(CalibSamples));
    public DataOptions? Evaluation(ParseResult parsed) => Data(parsed, parsed.GetValue(EvalData), parsed.GetValue(SeqLen));

    private DataOptions? Data(ParseResult parsed, string? path, int? length, int? max = null) => path is null ? null : new DataOptions
    {
        Path = path, SeqLen = length, TextField = parsed.GetValue(TextField)!, MaxSequences = max,
    };

    /// <summary>Logs the fine-tune's progress every --log-every steps.</summary>
    public static Action<Training.StepMetrics> FineTuneLog(Training.TrainingOptions fineTune) => m =>
    {
        if (m.Step == 1 || m.Step % fineTune.LogEvery == 0 || m.Step == fineTune.Steps)
            Serilog.Log.Information("fine-tune step {Step}/{Steps} loss {Loss:F4} lr {Lr:E2}", m.Step, fineTune.Steps, m.Loss, m.LearningRate);
    };
}
