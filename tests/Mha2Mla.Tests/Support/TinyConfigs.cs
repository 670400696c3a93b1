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

    /// <summary>A dense DeepSeek-V3 as transformers' DeepseekV3Config writes it (every layer dense: first_k_dense_replace = num_hidden_layers).</summary>
    public static Dictionary<string, object?> DeepSeekV3(int? queryLoraRank = null, bool tied = false) => new()
    {
        ["architectures"] = new[] { "DeepseekV3ForCausalLM" },
        ["model_type"] = "deepseek_v3",
        ["hidden_size"] = 64,
        ["intermediate_size"] = 96,
        ["moe_intermediate_size"] = 32,
        ["num_hidden_layers"] = 2,
        ["first_k_dense_replace"] = 2,
        ["n_routed_experts"] = 4,
        ["num_attention_heads"] = 4,
        ["num_key_value_heads"] = 4,
        ["q_lora_rank"] = queryLoraRank,
        ["kv_lora_rank"] = 12,
        ["qk_nope_head_dim"] = 8,
        ["qk_rope_head_dim"] = 4,
        ["v_head_dim"] = 6,
        ["head_dim"] = 4,
        ["vocab_size"] = 97,
        ["max_position_embeddings"] = 256,
        ["rms_norm_eps"] = 1e-6,
        ["rope_theta"] = 10000.0,
        ["rope_interleave"] = true,
        ["attention_bias"] = false,
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
