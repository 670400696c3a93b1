using Mha2Mla.Data;

namespace Mha2Mla.Cli;

/// <summary>
/// The data flags, declared once for every command that reads data. A command has one set of
/// format flags (--text-field, --data-dtype: how text and token files are read) and one
/// <see cref="DataSetArguments"/> per data set it takes (--data; or --calib-data, --eval-data,
/// --train-data), each with its window length and count.
/// </summary>
public sealed class DataArguments
{
    public Option<string> TextField { get; } = new("--text-field") { Description = "The .jsonl field holding text", DefaultValueFactory = _ => "text" };
    public Option<string> DType { get; } = new("--data-dtype") { Description = "Element type of .bin token files", DefaultValueFactory = _ => "uint16" };

    public DataArguments() => DType.AcceptOnlyFromAmong("uint16", "uint32");

    public IEnumerable<Option> All => [TextField, DType];

    /// <summary>What the command was told about data set <paramref name="set"/>, or null where its flag is absent.</summary>
    public DataOptions? Read(ParseResult parsed, DataSetArguments set)
    {
        if (parsed.GetValue(set.Path) is not { } path) return null;
        var max = set.MaxSequences is null ? null : parsed.GetValue(set.MaxSequences);
        return new DataOptions
        {
            Path = path,
            SeqLen = parsed.GetValue(set.SeqLen),
            TextField = parsed.GetValue(TextField)!,
            TokenFileDType = parsed.GetValue(DType) == "uint32" ? TokenFileDType.UInt32 : TokenFileDType.UInt16,
            MaxSequences = max,
        };
    }

    /// <summary>The description every data flag starts with.</summary>
    public const string Formats = "a file, a directory or a glob. .txt (documents separated by blank lines), .jsonl (a text field, or input_ids), " +
                                  ".json (an array of arrays of token ids), .bin (raw token ids). Text is tokenized with the model's tokenizer.json";
}

/// <summary>
/// One data set's flags: its path, its window length and (where the command limits it) how many
/// sequences. Sets of one command may share a window flag (convert's --eval-data and --train-data
/// share --seq-len).
/// </summary>
public sealed class DataSetArguments
{
    public Option<string?> Path { get; }
    public Option<int?> SeqLen { get; }
    public Option<int?>? MaxSequences { get; }

    /// <param name="seqLen">The window flag, when shared with another set or given its own default; else --seq-len.</param>
    /// <param name="maxSequences">The count flag, when not --max-sequences; null: <paramref name="limit"/> decides.</param>
    /// <param name="limit">Whether the set takes --max-sequences (a command's only data set does).</param>
    public DataSetArguments(string flag, string what, bool required = false, Option<int?>? seqLen = null, Option<int?>? maxSequences = null, bool limit = false)
    {
        Path = new Option<string?>(flag) { Description = $"{what}: {DataArguments.Formats}", Required = required };
        SeqLen = seqLen ?? DefaultSeqLen();
        MaxSequences = maxSequences ?? (limit ? new Option<int?>("--max-sequences") { Description = "Use at most this many sequences" } : null);
    }

    /// <summary>--seq-len: the model's default window when absent.</summary>
    public static Option<int?> DefaultSeqLen(string what = "") => new("--seq-len")
    {
        Description = $"Tokens per sequence{what}. Text and .bin are packed and cut into windows of this length; pre-tokenized sequences " +
                      "stay separate and are cut only if longer (default: 2048, or the model's max_position_embeddings if smaller)",
    };

    public IEnumerable<Option> All => MaxSequences is null ? [Path, SeqLen] : [Path, SeqLen, MaxSequences];
}
