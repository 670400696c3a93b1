using System.Text.Json;
using System.Text.Json.Nodes;
using Mha2Mla.Checkpoints;
using Mha2Mla.Models;
using Mha2Mla.Torch;

namespace Mha2Mla.Conversion;

public sealed record ConversionResult(MlaSettings Mla, ModelConfig Config);

/// <summary>
/// Converts a checkpoint to MLA one decoder layer at a time: only that layer's weights, the
/// calibration hidden states (2-norm) and, briefly, the embedding are in memory. Each layer is
/// written to its own shard as soon as it is converted; the embedding, final norm and head go
/// to a last shard, and model.safetensors.index.json ties them together.
/// </summary>
public static class Converter
{
    public static ConversionResult Convert(Checkpoint source, ConversionSettings settings, IReadOnlyList<int[]>? calibration,
        string outDirectory, Action<int, int>? onLayer = null)
    {
        var config = source.Config;
        settings.Validate(config);
        if (settings.Strategy == RopeStrategy.TwoNorm && (calibration is null || calibration.Count == 0))
            throw new InvalidInputException("--rope-strategy 2-norm ranks frequencies on calibration data: give --calib-data (or choose high, low or uniform)");

        var device = Device.CPU;
        var diskType = source.Weights.OutputType();
        var loader = WeightLoader.FromStore(source.Weights, config, device);
        var rope = new RotaryEmbedding(config, device);
        var layers = config.NumHiddenLayers;
        var shardName = (int i) => $"model-{i + 1:D5}-of-{layers + 1:D5}.safetensors";
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var pairs = new int[layers][][];

        using var noGrad = torch.no_grad();
        var hidden = settings.Strategy == RopeStrategy.TwoNorm ? Embed(source.Weights, calibration!) : null;
        try
        {
            for (var l = 0; l < layers; l++)
            {
                using var layer = loader.ReadLayer(l);
                var attention = (Attention)layer.Attention;
                pairs[l] = hidden is null
                    ? Enumerable.Repeat(RopeSelection.Fixed(settings.Strategy, config.HeadDim, settings.RopePairs), config.NumKeyValueHeads).ToArray()
                    : ScoreAndAdvance(config, layer, attention, rope, hidden).Select(s => RopeSelection.TopPairs(s, settings.RopePairs)).ToArray();

                using var mla = KvFactorization.Factorize(config, attention, pairs[l], settings);
                var tensors = layer.NamedParameters(l, mla).ToList();
                SafetensorsWriter.Write(Path.Combine(outDirectory, shardName(l)), tensors, diskType);
                foreach (var (name, _) in tensors) weightMap[name] = shardName(l);
                onLayer?.Invoke(l + 1, layers);
            }
        }
        finally
        {
            if (hidden is not null) foreach (var h in hidden) h.Dispose();
        }

        WriteOuterShard(source.Weights, config, Path.Combine(outDirectory, shardName(layers)), diskType, weightMap, shardName(layers));
        File.WriteAllText(Path.Combine(outDirectory, "model.safetensors.index.json"),
            JsonSerializer.Serialize(new { metadata = new { format = "mha2mla-mla-v1" }, weight_map = weightMap }, new JsonSerializerOptions { WriteIndented = true }));

        var mlaSettings = new MlaSettings(MlaSettings.CurrentVersion, settings.RopePairs, settings.KvRank, settings.LatentDim(config),
            RopeSelection.Name(settings.Strategy), settings.Svd == SvdMode.Joint ? "joint" : "split", pairs);
        WriteConfig(source.Directory, outDirectory, mlaSettings);
        return new ConversionResult(mlaSettings, config with { Mla = mlaSettings });
    }

    // Calibration hidden states entering layer 0: one (1, T, d) fp32 tensor per sample. The
    // embedding is read in its disk dtype (half the memory of fp32) and only its rows are widened.
    private static List<Tensor> Embed(WeightStore weights, IReadOnlyList<int[]> samples)
    {
        using var embedding = weights.Read(WeightNames.Embedding, weights.Entry(WeightNames.Embedding).DType);
        return samples.Select(ids =>
        {
            using var scope = torch.NewDisposeScope();
            var input = torch.tensor<long>(Array.ConvertAll(ids, i => (long)i), [1, ids.Length]);
            return scope.Detach(torch.nn.functional.embedding(input, embedding).to(ScalarType.Float32));
        }).ToList();
    }

    /// <summary>Scores this layer's pairs on the calibration states, then moves the states through the layer.</summary>
    private static double[][] ScoreAndAdvance(ModelConfig config, DecoderLayer layer, Attention attention, RotaryEmbedding rope, List<Tensor> hidden)
    {
        var statistics = new PairNormStatistics(config.NumAttentionHeads, config.NumKeyValueHeads, config.HeadDim);
        for (var i = 0; i < hidden.Count; i++)
        {
            using var scope = torch.NewDisposeScope();
            var x = hidden[i];
            var length = x.size(1);
            var normed = layer.InputNorm.Forward(x);
            statistics.Add(
                attention.Q.Forward(normed).view(1, length, config.NumAttentionHeads, config.HeadDim).transpose(1, 2),
                attention.K.Forward(normed).view(1, length, config.NumKeyValueHeads, config.HeadDim).transpose(1, 2));
            var (cos, sin) = rope.Tables(length);
            var mask = CausalMask.Create(length, config.SlidingWindow, Device.CPU);
            hidden[i] = scope.Detach(layer.Forward(x, rope, cos, sin, mask));
            x.Dispose();
        }
        return statistics.Scores();
    }

    private static void WriteOuterShard(WeightStore weights, ModelConfig config, string path, ScalarType diskType,
        SortedDictionary<string, string> weightMap, string shard)
    {
        using var scope = torch.NewDisposeScope();
        var names = new List<string> { WeightNames.Embedding, WeightNames.FinalNorm };
        if (!config.TieWordEmbeddings) names.Add(WeightNames.LmHead);
        var tensors = names.Select(n => (n, weights.Read(n, weights.Entry(n).DType))).ToList(); // no fp32 detour
        SafetensorsWriter.Write(path, tensors, diskType);
        foreach (var n in names) weightMap[n] = shard;
    }

    // The original config.json, every field kept, plus the versioned "mla" section.
    private static void WriteConfig(string sourceDirectory, string outDirectory, MlaSettings mla)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(sourceDirectory, "config.json")))!.AsObject();
        config["mla"] = JsonSerializer.SerializeToNode(mla, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
        File.WriteAllText(Path.Combine(outDirectory, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
