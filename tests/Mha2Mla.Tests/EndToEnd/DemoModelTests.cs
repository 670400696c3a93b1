using Mha2Mla.Data;
using Mha2Mla.Evaluation;

namespace Mha2Mla.Tests.EndToEnd;

/// <summary>
/// The bundled demo models (models/demo and models/demo-gqa, made by scripts/make-demo-model.sh
/// [--gqa]): SmolLM-shaped, small enough to ship, and real language models — on held-out Brown
/// Corpus text their perplexity is far below that of a unigram model of the training split.
/// </summary>
public class DemoModelTests : IDisposable
{
    private readonly TempDir dir = new();

    private string BrownSplit(string split)
    {
        var path = dir.File($"brown-{split}.txt");
        var result = ProcessRunner.Run("node", [Path.Combine(RepoPaths.Root, "scripts", "js", "brown-text.mjs"), path, split]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return path;
    }

    [Theory]
    [InlineData("demo", 1, 3)]       // MQA, as SmolLM-135M's groups of 3
    [InlineData("demo-gqa", 2, 2)]   // GQA: what mixes KV heads (rorope) is tried here
    public void IsShapedLikeSmolLmAndSmallEnoughToShip(string name, int kvHeads, int group)
    {
        using var demo = Checkpoint.Open(name);
        var c = demo.Config;
        Assert.Equal((64, kvHeads, group, 10000.0), (c.HeadDim, c.NumKeyValueHeads, c.GroupSize, c.Rope.Theta));
        Assert.Equal(File.ReadAllText(Path.Combine(RepoPaths.Root, "models", "demo", "tokenizer.json")), File.ReadAllText(Path.Combine(demo.Directory, "tokenizer.json")));
        Assert.Equal("BF16", demo.Weights.StorageDType());
        var bytes = Directory.GetFiles(demo.Directory, "*.safetensors").Sum(f => new FileInfo(f).Length);
        Assert.True(bytes <= 10 << 20, $"{bytes} bytes of weights");
    }

    [Theory]
    [InlineData("demo")]
    [InlineData("demo-gqa")]
    public void HeldOutPerplexityIsFarBelowTheUnigramBaseline(string name)
    {
        var train = BrownSplit("train");
        var heldOut = BrownSplit("heldout");
        var result = Support.Cli.RunFor(TimeSpan.FromMinutes(20), "eval", name, "--data", heldOut, "--seq-len", "256", "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        var perplexity = JsonDocument.Parse(result.Stdout).RootElement.GetProperty("perplexity").GetDouble();

        using var demo = Checkpoint.Open(name);
        IEnumerable<int[]> Read(string path) =>
            SequenceReader.Read(new DataOptions { Path = path, SeqLen = 256 }, demo.LoadTokenizer, demo.Config.VocabSize);
        var unigram = UnigramBaseline.Perplexity(Read(train), Read(heldOut), demo.Config.VocabSize);

        Assert.True(unigram > 300, $"unigram perplexity {unigram:F1} is implausibly low");
        Assert.True(perplexity < unigram / 3, $"demo perplexity {perplexity:F1} vs unigram {unigram:F1}");
    }

    public void Dispose() => dir.Dispose();
}
