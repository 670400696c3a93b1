using System.CommandLine;
using Mha2Mla.Data;

namespace Mha2Mla.Cli;

/// <summary>
/// The options that describe a command's data, made once per flag name so that later commands
/// can take several data sets (--calib-data, --train-data, --eval-data) with the same rules.
/// </summary>
public sealed class DataArguments
{
    public Option<string> Data { get; }
    public Option<int?> SeqLen { get; }
    public Option<string> TextField { get; }
    public Option<string> DType { get; }
    public Option<int?> MaxSequences { get; }

    public DataArguments(string flag = "--data", bool required = true)
    {
        Data = new Option<string>(flag)
        {
            Description = "Data: a file, a directory or a glob. .txt (documents separated by blank lines), .jsonl (a text field, or input_ids), " +
                          ".json (an array of arrays of token ids), .bin (raw token ids). Text is tokenized with the model's tokenizer.json.",
            Required = required,
        };
        SeqLen = new Option<int?>("--seq-len")
        {
            Description = "Tokens per sequence. Text and .bin are packed and cut into windows of this length; pre-tokenized sequences " +
                          "stay separate and are cut only if longer (default: 2048, or the model's max_position_embeddings if smaller)",
        };
        TextField = new Option<string>("--text-field") { Description = "The .jsonl field holding text", DefaultValueFactory = _ => "text" };
        DType = new Option<string>("--data-dtype") { Description = "Element type of .bin token files", DefaultValueFactory = _ => "uint16" };
        DType.AcceptOnlyFromAmong("uint16", "uint32");
        MaxSequences = new Option<int?>("--max-sequences") { Description = "Use at most this many sequences" };
    }

    public IEnumerable<Option> All => [Data, SeqLen, TextField, DType, MaxSequences];

    /// <summary>The data options; a missing --seq-len stays null, for the model's default.</summary>
    public DataOptions Read(ParseResult parsed)
    {
        var max = parsed.GetValue(MaxSequences);
        if (max is <= 0) throw new InvalidInputException($"--max-sequences must be positive, not {max}");
        return new DataOptions
        {
            Path = parsed.GetRequiredValue(Data),
            SeqLen = parsed.GetValue(SeqLen),
            TextField = parsed.GetValue(TextField)!,
            TokenFileDType = parsed.GetValue(DType) == "uint32" ? TokenFileDType.UInt32 : TokenFileDType.UInt16,
            MaxSequences = max,
        };
    }
}
