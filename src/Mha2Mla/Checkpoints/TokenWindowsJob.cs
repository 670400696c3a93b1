using System.Text;

namespace Mha2Mla.Checkpoints;

/// <summary>What `mha2mla tokenize MODEL --data D -o OUT` was asked: a data set to cut into a model's windows, once.</summary>
public sealed record TokenWindowsOptions
{
    /// <summary>The model whose tokenizer encodes the text and whose vocabulary checks the ids.</summary>
    public required string Model { get; init; }
    public required DataOptions Data { get; init; }
    public required string Output { get; init; }
    public bool Overwrite { get; init; }
}

/// <summary>What `tokenize --data` wrote: OUT/windows.jsonl and what is in it.</summary>
public sealed record TokenWindowsResult(string Output, string File, int SeqLen, long Sequences, long Tokens, int Longest, string DataContents);

/// <summary>
/// Cuts a data set into the windows `convert` and `train` would read from it (<see
/// cref="SequenceReader"/>'s rule, in file order, unshuffled) and writes them as OUT/windows.jsonl,
/// one {"input_ids": [...]} per line: the form Hugging Face's datasets and trainers read, and one
/// mha2mla reads back as the same windows (pre-tokenized sequences are never re-packed). So a
/// fine-tune run elsewhere (scripts/recipes/fsdp) trains on exactly the windows mha2mla would.
/// OUT is built aside and swapped in, as every output.
/// </summary>
public static class TokenWindowsJob
{
    public const string FileName = "windows.jsonl";

    public static TokenWindowsResult Run(TokenWindowsOptions options, Action<string>? log = null)
    {
        var (directory, config) = Checkpoint.ReadConfig(options.Model);
        var data = options.Data.Resolve(config);
        var fingerprint = DataFiles.Fingerprint(data.Path);   // also: every data file exists before OUT is claimed
        using var output = OutputDirectory.ForNewResult(options.Output, options.Overwrite, [directory, .. DataFiles.Expand(data.Path)]);
        var (sequences, tokens, longest) = (0L, 0L, 0);
        using (var writer = new StreamWriter(Path.Combine(output.WorkDirectory, FileName), append: false, new UTF8Encoding(false)))
        {
            foreach (var window in SequenceReader.Read(data, () => Checkpoint.ReadTokenizer(directory), config.VocabSize))
            {
                writer.Write("{\"input_ids\":[");
                writer.Write(string.Join(',', window));
                writer.Write("]}\n");
                (sequences, tokens, longest) = (sequences + 1, tokens + window.Length, Math.Max(longest, window.Length));
                if (sequences % 10_000 == 0) log?.Invoke($"{sequences:N0} windows, {tokens:N0} tokens");
            }
        }
        if (sequences == 0) throw new InvalidInputException($"{data.Path}: holds no tokens, so there is no window to write");
        output.Commit();
        return new TokenWindowsResult(output.Path, Path.Combine(output.Path, FileName), data.SeqLen!.Value, sequences, tokens, longest, fingerprint);
    }
}
