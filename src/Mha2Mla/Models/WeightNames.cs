namespace Mha2Mla.Models;

/// <summary>Hugging Face's tensor names for Llama-family checkpoints.</summary>
public static class WeightNames
{
    public const string Embedding = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string LmHead = "lm_head.weight";

    public static string Layer(int layer, string rest) => $"model.layers.{layer}.{rest}";
}
