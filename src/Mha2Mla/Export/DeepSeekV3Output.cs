using Mha2Mla.Conversion;

namespace Mha2Mla.Export;

/// <summary>
/// A conversion's last stage when OUT is DeepSeek-V3 (convert --format deepseek-v3): each converted
/// layer is mapped onto DeepSeek-V3's projections as it is written (<see cref="DeepSeekV3Layout"/>),
/// then the DeepSeek config.json and export_report.json finish OUT beside the conversion's reports.
/// </summary>
public sealed class DeepSeekV3Output(ModelConfig config, int ropePairs, int latent, bool sharedRopeHead = false, KernelShape? shape = null) : ModelOutput
{
    // Made before any work, so a shape the conversion's widths do not fit is refused at once.
    private readonly DeepSeekV3Layout layout = new(config, ropePairs, latent, sharedRopeHead, shape);

    /// <summary>export_report.json, once written.</summary>
    public ExportReport? Report { get; private set; }

    public override IEnumerable<(string Name, Tensor Value)> Layer(int index, DecoderLayer layer) => DeepSeekV3Export.Layer(layer, index, layout, null);

    public override void Finish(CheckpointWriter writer, ModelConfig converted, CheckpointFiles files, string directory, string source, string output) =>
        Report = DeepSeekV3Export.Finish(writer, converted, files, layout, directory, source, output, perplexity: null, warnings: []);
}
