using Mha2Mla.Checkpoints;
using Mha2Mla.Tokenization;

namespace Mha2Mla.Cli.Commands;

/// <summary>
/// `mha2mla tokenize TOKENIZER`: encode or decode with a Hugging Face tokenizer.json; with --data,
/// cut a data set into the model's training windows once (<see cref="TokenWindowsJob"/>).
/// </summary>
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
        var format = new DataArguments();
        var data = new DataSetArguments("--data", "Data to cut into windows (with -o; TOKENIZER is then the model)", limit: true);
        var output = new Option<string?>("--output", "-o") { Description = $"With --data: the output directory, which gets {TokenWindowsJob.FileName} (built beside it and renamed at the end)" };
        var overwrite = new Option<bool>("--overwrite") { Description = "With --data: replace an existing OUT (only once the new one is complete)" };
        var command = new Command("tokenize",
            "Encode text to token ids (or decode ids to text) exactly as Hugging Face's tokenizer.json does. " +
            "By default ids include the special tokens the file's post-processor adds, as Hugging Face's encode returns them. " +
            $"With --data D -o OUT: write the windows convert and train read from D (same packing, file order, unshuffled) to OUT/{TokenWindowsJob.FileName}, " +
            "one {\"input_ids\": [...]} per line, for a trainer elsewhere (scripts/recipes/fsdp) or to tokenize once for many runs.")
        {
            tokenizerPath, text, strings, decode, noSpecial, output, overwrite,
        };
        foreach (var option in data.All.Concat(format.All)) command.Options.Add(option);
        command.SetAction(parsed =>
        {
            if (format.Read(parsed, data) is { } windows)
            {
                if (parsed.GetValue(text) is not null || parsed.GetValue(strings) is not null || parsed.GetValue(decode) is not null)
                    throw new InvalidInputException("tokenize --data writes windows; it takes no --text, --strings or --decode");
                var packed = TokenWindowsJob.Run(new TokenWindowsOptions
                {
                    Model = parsed.GetRequiredValue(tokenizerPath), Data = windows,
                    Output = parsed.GetValue(output) ?? throw new InvalidInputException("tokenize --data needs -o OUT, the directory to write the windows to"),
                    Overwrite = parsed.GetValue(overwrite),
                }, message => Log.Information("{Message}", message));
                if (parsed.GetValue(CommonOptions.Json)) JsonOutput.Write(packed);
                else Console.WriteLine($"{packed.Sequences} windows ({packed.Tokens} tokens, at most {packed.SeqLen} each) written to {packed.File}");
                return ExitCodes.Success;
            }
            if (parsed.GetValue(output) is not null) throw new InvalidInputException("-o is for tokenize --data (writing windows); --text, --strings and --decode print their result");
            var result = TokenizeJob.Run(new TokenizeOptions
            {
                Tokenizer = parsed.GetRequiredValue(tokenizerPath), Text = parsed.GetValue(text), StringsFile = parsed.GetValue(strings),
                Decode = parsed.GetValue(decode), SpecialTokens = !parsed.GetValue(noSpecial),
            });
            if (parsed.GetValue(CommonOptions.Json)) JsonOutput.Write(result.Json());
            else Console.Write(result.Lines());
            return ExitCodes.Success;
        });
        return command;
    }
}
