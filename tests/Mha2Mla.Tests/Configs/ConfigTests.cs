using Mha2Mla.Configs;

namespace Mha2Mla.Tests.Configs;

public class ConfigTests : IDisposable
{
    private readonly TempDir dir = new();

    private ModelConfig Read(Dictionary<string, object?> config)
    {
        var path = dir.File($"config-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, JsonSerializer.Serialize(config));
        return ModelConfigReader.Read(path);
    }

    private string Error(Dictionary<string, object?> config) =>
        Assert.Throws<InvalidInputException>(() => Read(config)).Message;

    [Fact]
    public void ReadsTheFieldsAndDerivesHeadDimAndGroups()
    {
        var c = Read(TinyConfigs.Llama(4, 2));
        Assert.Equal(("llama", 64, 16, 2, 2), (c.ModelType, c.HiddenSize, c.HeadDim, c.GroupSize, c.NumHiddenLayers));
        Assert.True(c.IsGroupedQuery);
        Assert.Equal(2L * 2 * 16, c.KvCacheElementsPerTokenPerLayer);
        Assert.False(c.QkvBias);
    }

    [Fact]
    public void LlamaWithoutKvHeadsIsMultiHeadAsInHuggingFace()
    {
        var config = TinyConfigs.Llama();
        config.Remove("num_key_value_heads");
        Assert.Equal(4, Read(config).NumKeyValueHeads);
    }

    [Fact]
    public void Qwen2AlwaysHasQkvBiasAndLlamaOnlyWhenAsked()
    {
        var qwen = Read(TinyConfigs.Llama(4, 2).With("model_type", "qwen2"));
        Assert.True(qwen.QkvBias);
        Assert.False(qwen.OutputBias);
        var llama = Read(TinyConfigs.Llama().With("attention_bias", true));
        Assert.True(llama.QkvBias && llama.OutputBias);
    }

    [Fact]
    public void DefaultRopeScalingMeansPlainRope() =>
        Assert.Equal(new RopeSettings { Theta = 10000.0 }, Read(TinyConfigs.Llama().With("rope_scaling", new Dictionary<string, object> { ["rope_type"] = "default" })).Rope);

    [Theory]
    [InlineData("model_type", "gpt2", "model_type is 'gpt2'")]
    [InlineData("hidden_act", "gelu", "hidden_act is 'gelu'")]
    [InlineData("num_key_value_heads", 3, "does not divide")]
    [InlineData("hidden_size", -64, "hidden_size must be a positive integer")]
    [InlineData("mlp_bias", true, "mlp_bias is true")]
    [InlineData("tie_word_embeddings", "yes", "must be true or false")]
    public void UnsupportedOrMalformedSettingsNameTheField(string field, object value, string expected) =>
        Assert.Contains(expected, Error(TinyConfigs.Llama().With(field, value)));

    [Fact]
    public void MissingRequiredFieldIsNamed()
    {
        var config = TinyConfigs.Llama();
        config.Remove("vocab_size");
        Assert.Contains("vocab_size is missing", Error(config));
    }

    [Fact]
    public void Qwen2SlidesFromMaxWindowLayersOnlyWithUseSlidingWindow()
    {
        var qwen = TinyConfigs.Llama(4, 2).With("model_type", "qwen2").With("max_window_layers", 1).With("sliding_window", 7);
        var off = Read(qwen);
        Assert.Equal([null, null], [off.WindowOf(0), off.WindowOf(1)]);
        var on = Read(qwen.With("use_sliding_window", true));
        Assert.Equal([null, 7], [on.WindowOf(0), on.WindowOf(1)]);
        var mistral = Read(TinyConfigs.Llama(4, 2).With("model_type", "mistral")); // transformers' default window
        Assert.Equal([4096, 4096], [mistral.WindowOf(0), mistral.WindowOf(1)]);
        Assert.Null(Read(TinyConfigs.Llama(4, 2).With("model_type", "mistral").With("sliding_window", null)).WindowOf(0));
    }

    [Fact]
    public void Llama3ScalingNeedsAllItsFields() =>
        Assert.Contains("rope_scaling.low_freq_factor is missing", Error(TinyConfigs.Llama().With("rope_scaling",
            new Dictionary<string, object> { ["rope_type"] = "llama3", ["factor"] = 8.0, ["high_freq_factor"] = 4.0, ["original_max_position_embeddings"] = 8192 })));

    [Fact]
    public void NotJsonIsAnInputError() =>
        Assert.Contains("not valid JSON", Assert.Throws<InvalidInputException>(() =>
        {
            var path = dir.File("broken.json");
            File.WriteAllText(path, "{\"model_type\": ");
            ModelConfigReader.Read(path);
        }).Message);

    public void Dispose() => dir.Dispose();
}
