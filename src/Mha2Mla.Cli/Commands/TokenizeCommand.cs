using System.CommandLine;
using System.Text.Json;
using Mha2Mla.Tokenization;

namespace Mha2Mla.Cli.Commands;

/// <summary>`mha2mla tokenize TOKENIZER`: encode or decode with a Hugging Face tokenizer.json.</summary>
public static class TokenizeCommand
{
    public static Command Create()
    {
        var tokenizerPath = new Argument<string>("TOKENIZER") { Description = "A tokenizer.json, or a model holding one: a directory, a hub id (org/name[@revision]) or 'demo'" };
        var text = new Option<string?>("--text") { Description = "Text to encode" };
        var strings = new Option<string?>("--strings") { Description = "A JSON file holding an array of strings to encode, each on its own" };
        var decode = new Option<string?>("--decode") { Description = "Comma-separated token ids to decode back to text, e.g. 1,15043,3186" };
        var noSpecial = new Option<bool>("--no-special-tokens")
        {
            Description = "Encode without the post-processor's special tokens (BOS/EOS); decode without special tokens",
        };
        var command = new Command("tokenize",
            "Encode text to token ids (or decode ids to text) exactly as Hugging Face's tokenizer.json does. " +
            "By default ids include the special tokens the file's post-processor adds, as Hugging Face's encode returns them.")
        {
            tokenizerPath, text, strings, decode, noSpecial,
        };
        command.SetAction(parsed =>
        {
            var given = new[] { parsed.GetValue(text) is not null, parsed.GetValue(strings) is not null, parsed.GetValue(decode) is not null }.Count(x => x);
            if (given != 1) throw new InvalidInputException("tokenize needs exactly one of --text, --strings or --decode");
            var source = parsed.GetRequiredValue(tokenizerPath);
            // A tokenizer.json, or anything that names a model: a directory, a hub id, 'demo'.
            var tokenizer = TokenizerReader.Read(File.Exists(source) ? source : Storage.ModelSource.Resolve(source));
            var json = parsed.GetValue(CommonOptions.Json);
            var special = !parsed.GetValue(noSpecial);

            if (parsed.GetValue(decode) is { } idList)
            {
                var decoded = tokenizer.Decode(ParseIds(idList), skipSpecialTokens: !special);
                if (json) JsonOutput.Write(new { text = decoded });
                else Console.WriteLine(decoded);
            }
            else if (parsed.GetValue(text) is { } single)
            {
                var encoded = tokenizer.Encode(single, special);
                if (json) JsonOutput.Write(new { ids = encoded.Ids, tokens = encoded.Tokens });
                else Console.WriteLine(string.Join(' ', encoded.Ids));
            }
            else
            {
                var results = ReadStrings(parsed.GetValue(strings)!).Select(s => tokenizer.Encode(s, special)).ToList();
                if (json) JsonOutput.Write(results.Select(e => new { ids = e.Ids, tokens = e.Tokens }).ToList());
                else foreach (var e in results) Console.WriteLine(string.Join(' ', e.Ids));
            }
            return ExitCodes.Success;
        });
        return command;
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
