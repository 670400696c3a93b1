using Mha2Mla.Checkpoints;
using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>
/// Reads named weights as fp32 on the target device, checking each against the shape the config
/// implies: a config that disagrees with its weights is reported by name, never half-loaded.
/// </summary>
internal sealed class WeightLoader(WeightStore weights, ModelConfig config, Device device)
{
    public Tensor Read(string name, params long[] expectedShape)
    {
        var entry = weights.Entry(name);
        if (!entry.Shape.SequenceEqual(expectedShape))
            throw new InvalidInputException(
                $"{weights.Directory}: tensor '{name}' has shape [{string.Join(", ", entry.Shape)}] but config.json implies " +
                $"[{string.Join(", ", expectedShape)}]; config.json and the weights disagree");
        using var cpu = weights.Read(name);
        var weight = device.type == DeviceType.CPU ? cpu.detach() : cpu.to(device);
        return weight.DetachFromDisposeScope();
    }

    public Linear ReadLinear(string prefix, long outFeatures, long inFeatures, bool bias) =>
        new(Read($"{prefix}.weight", outFeatures, inFeatures), bias ? Read($"{prefix}.bias", outFeatures) : null);

    public DecoderLayer ReadLayer(int index)
    {
        string Name(string rest) => WeightNames.Layer(index, rest);
        var (d, dh) = (config.HiddenSize, config.HeadDim);
        var qWidth = config.NumAttentionHeads * dh;
        var kvWidth = config.NumKeyValueHeads * dh;

        var attention = new Attention(config,
            ReadLinear(Name("self_attn.q_proj"), qWidth, d, config.QkvBias),
            ReadLinear(Name("self_attn.k_proj"), kvWidth, d, config.QkvBias),
            ReadLinear(Name("self_attn.v_proj"), kvWidth, d, config.QkvBias),
            ReadLinear(Name("self_attn.o_proj"), d, qWidth, config.OutputBias));
        var mlp = new Mlp(
            ReadLinear(Name("mlp.gate_proj"), config.IntermediateSize, d, false),
            ReadLinear(Name("mlp.up_proj"), config.IntermediateSize, d, false),
            ReadLinear(Name("mlp.down_proj"), d, config.IntermediateSize, false));
        return new DecoderLayer(
            new RmsNorm(Read(Name("input_layernorm.weight"), d), config.RmsNormEps),
            attention,
            new RmsNorm(Read(Name("post_attention_layernorm.weight"), d), config.RmsNormEps),
            mlp);
    }
}
