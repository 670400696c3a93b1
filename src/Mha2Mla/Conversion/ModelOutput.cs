namespace Mha2Mla.Conversion;

/// <summary>
/// The last stage of a conversion: how the converted model is written. mha2mla's MLA checkpoint
/// (<see cref="MlaOutput"/>), or another architecture's layout (Export/DeepSeekV3Output), mapped
/// from the layers as the conversion holds them — streamed one at a time, or from the model in
/// memory after a fine-tune — never through a second checkpoint on disk.
/// </summary>
public abstract class ModelOutput
{
    /// <summary>The tensors decoder layer <paramref name="index"/> is written as (weights already rounded to the written dtype).</summary>
    public abstract IEnumerable<(string Name, Tensor Value)> Layer(int index, DecoderLayer layer);

    /// <summary>
    /// After the layers and the weights outside them (which keep their names in every layout):
    /// config.json and the companions, and any file of the format's own beside them.
    /// </summary>
    /// <param name="converted">The model's config with its "mla" section.</param>
    /// <param name="source">The original checkpoint's directory; <paramref name="output"/>: the name OUT will have.</param>
    public abstract void Finish(CheckpointWriter writer, ModelConfig converted, CheckpointFiles files, string directory, string source, string output);
}

/// <summary>mha2mla's MLA checkpoint (docs/mla-format.md): the modules' own names, the "mla" section, the format in the index.</summary>
public sealed class MlaOutput : ModelOutput
{
    public override IEnumerable<(string Name, Tensor Value)> Layer(int index, DecoderLayer layer) => layer.NamedParameters(LlamaModel.LayerName(index));

    public override void Finish(CheckpointWriter writer, ModelConfig converted, CheckpointFiles files, string directory, string source, string output) =>
        writer.Finish(files with { Format = converted.Mla!.IndexFormat });
}
