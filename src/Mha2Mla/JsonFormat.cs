using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Mha2Mla;

/// <summary>
/// The one way mha2mla writes JSON: a command's --json result on stdout, the reports beside its
/// outputs, config.json's "mla" section and the fine-tune's metrics lines. Keys are snake_case as
/// Hugging Face's files are; a diverged loss is written as "NaN" rather than failing the write.
/// </summary>
public static class JsonFormat
{
    /// <summary>One indented value (stdout, reports).</summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        // Read by people and programs, never embedded in HTML: keep "<s>", "▁" and "−" readable.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The same on one line (.jsonl records).</summary>
    public static readonly JsonSerializerOptions Lines = new(Options) { WriteIndented = false };
}
