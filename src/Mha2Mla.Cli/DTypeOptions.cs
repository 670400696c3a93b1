using System.CommandLine;
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

    /// <summary>bf16, f16 or f32 as a ScalarType; null stays null (the command's default).</summary>
    public static ScalarType? Parse(string? name) => name switch
    {
        null => null,
        "bf16" => ScalarType.BFloat16,
        "f16" => ScalarType.Float16,
        _ => ScalarType.Float32,
    };
}
