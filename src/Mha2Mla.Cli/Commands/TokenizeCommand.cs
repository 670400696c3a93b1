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
