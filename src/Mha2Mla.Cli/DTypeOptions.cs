using Mha2Mla.Torch;

namespace Mha2Mla.Cli;

/// <summary>Options that name a dtype (bf16, f16, f32), and what they mean as libtorch types.</summary>
public static class DTypeOptions
{
    /// <summary>--save-dtype: the dtype a command writes its weights in.</summary>
    public static Option<string?> SaveDType(string defaultNote = "the input's")
    {
        var option = new Option<string?>("--save-dtype") { Description = $"dtype of the written weights: bf16, f16 or f32 (default: {defaultNote})" };
        option.AcceptOnlyFromAmong("bf16", "f16", "f32");
        return option;
    }

    /// <summary>--dtype: what a command computes in (not what it stores).</summary>
    /// <param name="how">How the command uses it, for --help.</param>
    public static Option<string?> Compute(string how)
    {
        var option = new Option<string?>("--dtype") { Description = $"Compute dtype: bf16, f16 or f32 (default: bf16 on CUDA, f32 on CPU). {how}" };
        option.AcceptOnlyFromAmong("bf16", "f16", "f32");
        return option;
    }

    /// <summary>How inference uses --dtype.</summary>
    public const string InferenceCompute = "The weights are loaded in it, as transformers' torch_dtype; norms, softmax and the loss run in fp32.";

    /// <summary>How training uses --dtype.</summary>
    public const string TrainingCompute = "bf16 keeps fp32 master weights and AdamW state and runs forward and backward under autocast; f16 is refused (it would need loss scaling).";

    /// <summary>bf16, f16 or f32 as a ScalarType; null stays null (the command's default).</summary>
    public static ScalarType? Parse(string? name) => name switch
    {
        null => null,
        "bf16" => ScalarType.BFloat16,
        "f16" => ScalarType.Float16,
        _ => ScalarType.Float32,
    };
}
