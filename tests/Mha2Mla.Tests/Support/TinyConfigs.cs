namespace Mha2Mla.Tests.Support;

/// <summary>config.json contents for tiny models, one per architecture feature under test.</summary>
public static class TinyConfigs
{
    public static Dictionary<string, object?> Llama(int heads = 4, int kvHeads = 4, bool tied = false) => new()
    {
        ["architectures"] = new[] { "LlamaForCausalLM" },
        ["model_type"] = "llama",
        ["hidden_size"] = 64,
        ["intermediate_size"] = 96,
        ["num_hidden_layers"] = 2,
        ["num_attention_heads"] = heads,
        ["num_key_value_heads"] = kvHeads,
        ["vocab_size"] = 97,
        ["max_position_embeddings"] = 256,
        ["rms_norm_eps"] = 1e-5,
        ["rope_theta"] = 10000.0,
        ["tie_word_embeddings"] = tied,
        ["hidden_act"] = "silu",
        ["torch_dtype"] = "bfloat16",
    };

    public static Dictionary<string, object?> With(this Dictionary<string, object?> config, string key, object? value)
    {
        var copy = new Dictionary<string, object?>(config) { [key] = value };
        return copy;
    }
}
