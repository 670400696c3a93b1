namespace Mha2Mla.Tests.Checkpoints;

public class CheckpointInteropTests
{
    [Fact]
    public void ACheckpointRewrittenByOurWriterIsReadIdenticallyByThePythonReference()
    {
        using var dir = new TempDir();
        var original = Reference.MakeCheckpoint(dir.Sub("original"), TinyConfigs.Llama(4, 2), "bf16", shards: 2);
        var copy = dir.Sub("copy");
        File.Copy(Path.Combine(original, "config.json"), Path.Combine(copy, "config.json"));

        using (var store = WeightStore.Open(original))
        using (var scope = torch.NewDisposeScope())
        {
            var tensors = store.Names.Order(StringComparer.Ordinal).Select(n => (n, store.Read(n))).ToList();
            SafetensorsWriter.Write(Path.Combine(copy, "model.safetensors"), tensors, ScalarType.BFloat16);
        }

        var data = dir.File("ids.json");
        File.WriteAllText(data, "[[1, 5, 9, 13, 2, 7], [3, 3, 3, 4]]");
        Assert.Equal(Reference.Perplexity(original, data), Reference.Perplexity(copy, data));
    }

    [Fact]
    public void AShardIndexThatPointsAtTheWrongFileIsAnError()
    {
        using var dir = new TempDir();
        var model = Reference.MakeCheckpoint(dir.Sub("m"), TinyConfigs.Llama(), "bf16", shards: 2);
        var index = Path.Combine(model, "model.safetensors.index.json");
        var text = File.ReadAllText(index).Replace("\"model.norm.weight\": \"model-00002-of-00002.safetensors\"", "\"model.norm.weight\": \"model-00001-of-00002.safetensors\"");
        File.WriteAllText(index, text);
        var error = Assert.Throws<InvalidInputException>(() => WeightStore.Open(model));
        Assert.Contains("model.norm.weight", error.Message);
    }
}
