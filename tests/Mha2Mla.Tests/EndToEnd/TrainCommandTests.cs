using System.Text.Json.Nodes;

namespace Mha2Mla.Tests.EndToEnd;

public class TrainCommandTests : IDisposable
{
    private readonly TempDir dir = new();

    private static Dictionary<string, float[]> Weights(string model)
    {
        using var store = WeightStore.Open(model);
        return store.Names.ToDictionary(n => n, n => store.Read(n).data<float>());
    }

    [Fact]
    public void FreezeNonAttentionChangesOnlyAttentionAndNorms()
    {
        var model = Reference.MakeCheckpoint(dir.Sub("model"), TinyConfigs.Llama(4, 2), "f32");
        var data = dir.File("data.json");
        Reference.Run("ids", data, "--count", "4", "--length", "12", "--vocab", "97");
        var output = dir.File("out");
        var result = global::Mha2Mla.Tests.Support.Cli.Run("train", model, "--data", data, "-o", output, "--steps", "3", "--lr", "1e-2",
            "--batch", "2", "--freeze-non-attention", "--json");
        Assert.True(result.ExitCode == 0, result.ToString());

        var before = Weights(model);
        var after = Weights(output);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (name, values) in before)
        {
            var trainable = name.Contains(".self_attn.") || name.EndsWith("norm.weight");
            Assert.True(trainable == !values.SequenceEqual(after[name]), $"{name}: trainable {trainable}, changed {!values.SequenceEqual(after[name])}");
        }
        // The output is a checkpoint in the input's format: f32 weights, the same config (saying the dtype written), metrics beside it.
        var (source, written) = (JsonNode.Parse(File.ReadAllText(Path.Combine(model, "config.json")))!.AsObject(), JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!.AsObject());
        Assert.Equal("float32", written["torch_dtype"]!.GetValue<string>());
        source.Remove("torch_dtype");
        written.Remove("torch_dtype");
        Assert.True(JsonNode.DeepEquals(source, written), written.ToJsonString());
        Assert.Equal(3, File.ReadAllLines(Path.Combine(output, "metrics.jsonl")).Length);
        using var json = JsonDocument.Parse(result.Stdout);
        foreach (var key in new[] { "steps", "first_loss", "final_loss", "tokens_per_second" })
            Assert.True(json.RootElement.TryGetProperty(key, out _), key);
    }

    [Fact]
    public void InitTrainsFromARandomLlamaAndWritesBf16()
    {
        var config = dir.File("config.json");
        File.WriteAllText(config, JsonSerializer.Serialize(TinyConfigs.Llama(4, 2, tied: true)));
        var data = dir.File("data.json");
        Reference.Run("ids", data, "--count", "4", "--length", "12", "--vocab", "97");
        var output = dir.File("out");
        var result = global::Mha2Mla.Tests.Support.Cli.Run("train", "--init", config, "--data", data, "-o", output, "--steps", "2", "--batch", "2");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var store = WeightStore.Open(output);
        Assert.Equal("BF16", store.StorageDType());
        Assert.False(store.Contains("lm_head.weight")); // tied

        // The reference reads what we wrote, and our eval agrees with it.
        var ours = JsonDocument.Parse(global::Mha2Mla.Tests.Support.Cli.Run("eval", output, "--data", data, "--json").Stdout).RootElement.GetProperty("perplexity").GetDouble();
        var (theirs, _) = Reference.Perplexity(output, data);
        Assert.True(Math.Abs(ours - theirs) / theirs < 1e-5, $"{ours} vs {theirs}");
    }

    [Fact]
    public void ModelAndInitTogetherIsBadUsage()
    {
        var data = dir.File("data.json");
        File.WriteAllText(data, "[[1,2,3]]");
        global::Mha2Mla.Tests.Support.Cli.AssertBadInput(
            global::Mha2Mla.Tests.Support.Cli.Run("train", "demo", "--init", data, "--data", data, "-o", dir.File("o")), "exactly one of MODEL or --init");
    }

    public void Dispose() => dir.Dispose();
}
