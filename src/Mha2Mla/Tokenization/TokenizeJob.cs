using System.Text.Json;

namespace Mha2Mla.Tokenization;

/// <summary>What `mha2mla tokenize` was asked: a tokenizer and exactly one of text, a file of strings, or ids to decode.</summary>
public sealed record TokenizeOptions
{
    /// <summary>A tokenizer.json, or anything that names a model holding one: a directory, a hub id, 'demo'.</summary>
    public required string Tokenizer { get; init; }
    public string? Text { get; init; }
    /// <summary>A JSON file holding an array of strings, each encoded on its own.</summary>
    public string? StringsFile { get; init; }
    /// <summary>Comma- or space-separated token ids to decode.</summary>
    public string? Decode { get; init; }
    /// <summary>Encode with the post-processor's special tokens; decode keeping them.</summary>
    public bool SpecialTokens { get; init; } = true;
}

/// <summary>One encoded string, as --json prints it.</summary>
public sealed record TokenizedText(IReadOnlyList<int> Ids, IReadOnlyList<string> Tokens);

/// <summary>What `tokenize` produced: decoded text, one encoding (--text) or one per string (--strings).</summary>
public sealed record TokenizeResult(string? Text, IReadOnlyList<TokenizedText> Encodings, bool Single)
{
    /// <summary>What --json prints: {"text"}, {"ids", "tokens"}, or a list of the latter.</summary>
    public object Json() => Text is not null ? new { text = Text } : Single ? Encodings[0] : Encodings;

    /// <summary>What a person sees: the text, or each encoding's ids on a line (each line ends in a newline).</summary>
    public string Lines() => Text is not null ? Text + "\n" : string.Concat(Encodings.Select(e => string.Join(' ', e.Ids) + "\n"));
}

/// <summary>`mha2mla tokenize` as a job: encode or decode exactly as Hugging Face's tokenizer.json does.</summary>
public static class TokenizeJob
{
    public static TokenizeResult Run(TokenizeOptions options)
    {
        var given = new[] { options.Text is not null, options.StringsFile is not null, options.Decode is not null }.Count(x => x);
        if (given != 1) throw new InvalidInputException("tokenize needs exactly one of --text, --strings or --decode");
        var source = options.Tokenizer;
        var tokenizer = TokenizerReader.Read(File.Exists(source) ? source : Storage.ModelSource.Resolve(source));
        TokenizedText Encode(string text)
        {
            var encoded = tokenizer.Encode(text, options.SpecialTokens);
            return new TokenizedText(encoded.Ids, encoded.Tokens);
        }
        if (options.Decode is { } ids) return new TokenizeResult(tokenizer.Decode(ParseIds(ids), skipSpecialTokens: !options.SpecialTokens), [], false);
        if (options.Text is { } single) return new TokenizeResult(null, [Encode(single)], true);
        return new TokenizeResult(null, ReadStrings(options.StringsFile!).Select(Encode).ToList(), false);
    }

    private static int[] ParseIds(string list)
    {
        var parts = list.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries);
        return parts.Select(p => int.TryParse(p, out var id) && id >= 0 ? id
            : throw new InvalidInputException($"--decode: '{p}' is not a token id; give non-negative integers separated by commas")).ToArray();
    }

    private static string[] ReadStrings(string path)
    {
        var text = UserFiles.ReadText(path, $"--strings {path}");
        try
        {
            var strings = JsonSerializer.Deserialize<string?[]>(text)
                          ?? throw new InvalidInputException($"--strings {path}: expected a JSON array of strings");
            var missing = Array.IndexOf(strings, null);
            if (missing >= 0) throw new InvalidInputException($"--strings {path}: entry {missing} is null; expected a JSON array of strings");
            return strings!;
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"--strings {path}: expected a JSON array of strings ({e.Message.Split('\n')[0]})");
        }
    }
}
