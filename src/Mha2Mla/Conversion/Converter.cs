using Mha2Mla.Checkpoints;
using Mha2Mla.Models;
using Mha2Mla.Torch;

namespace Mha2Mla.Conversion;

/// <summary>
/// Converts a checkpoint to MLA one decoder layer at a time: only that layer's weights, the
/// calibration hidden states (2-norm) and, briefly, the embedding are in memory. Each converted
/// layer — a new <see cref="DecoderLayer"/> whose attention is an <see cref="MlaAttention"/>,
/// around the original norms and MLP — goes to <c>onLayer</c> as soon as it exists; the caller
/// owns it from then on (writes and frees it, or keeps it to run).
/// </summary>
public static class Converter
{
    /// <param name="settings">Resolved and validated (<see cref="ConversionJob.Validate"/>).</param>
    /// <param name="calibration">Token sequences; needed by 2-norm.</param>
    /// <returns>The config.json "mla" section describing what was done.</returns>
    public static MlaSettings Convert(Checkpoint source, ConversionSettings settings, IReadOnlyList<int[]>? calibration,
        Action<int, DecoderLayer> onLayer)
    {
        var config = source.Config;
        if (settings.Strategy == RopeStrategy.TwoNorm && (calibration is null || calibration.Count == 0))
            throw new InvalidInputException("--rope-strategy 2-norm ranks frequencies on calibration data, and --calib-data holds no sequences");

        var device = Device.CPU;
        var loader = WeightLoader.FromStore(source.Weights, config, device);
        var rope = new RotaryEmbedding(config, device);
        var pairs = new int[config.NumHiddenLayers][][];

        using var noGrad = torch.no_grad();
        var hidden = settings.Strategy == RopeStrategy.TwoNorm ? Embed(source.Weights, calibration!) : null;
        var masks = new Dictionary<long, CausalMasks>();
        try
        {
            for (var l = 0; l < config.NumHiddenLayers; l++)
            {
                var attention = Attention.Read(loader, config, l);
                var original = loader.ReadLayer(l, attention);
                MlaAttention mla;
                try
                {
                    pairs[l] = hidden is null
                        ? Enumerable.Repeat(RopeSelection.Fixed(settings.Strategy, config.HeadDim, settings.RopePairs), config.NumKeyValueHeads).ToArray()
                        : ScoreAndAdvance(config, l, original, attention, rope, hidden, masks).Select(s => RopeSelection.TopPairs(s, settings.RopePairs)).ToArray();
                    mla = KvFactorization.Factorize(config, attention, pairs[l], settings);
                }
                catch
                {
                    original.Dispose();
                    throw;
                }
                // A new layer: MLA attention around the original norms and MLP, which move to it.
                attention.Dispose();
                onLayer(l, new DecoderLayer(original.InputNorm, mla, original.PostAttentionNorm, original.Mlp));
            }
        }
        finally
        {
            if (hidden is not null) foreach (var h in hidden) h.Dispose();
            foreach (var byLength in masks.Values) byLength.Dispose();
        }
        return new MlaSettings(MlaSettings.CurrentVersion, settings.RopePairs, settings.KvRank, settings.LatentDim(config),
            settings.StrategyName, settings.SvdName, pairs);
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
            return torch.nn.functional.embedding(input, embedding).to(ScalarType.Float32).DetachFromDisposeScope();
        }).ToList();
    }

    /// <summary>Scores this layer's pairs on the calibration states, then moves the states through the layer.</summary>
    private static double[][] ScoreAndAdvance(ModelConfig config, int index, DecoderLayer layer, Attention attention, RotaryEmbedding rope,
        List<Tensor> hidden, Dictionary<long, CausalMasks> masks)
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
            if (!masks.TryGetValue(length, out var byLength)) masks[length] = byLength = new CausalMasks(length, Device.CPU);
            hidden[i] = layer.Forward(x, new AttentionInputs(cos, sin, byLength.For(config.WindowOf(index)))).DetachFromDisposeScope();
            x.Dispose();
        }
        var scores = statistics.Scores();
        if (scores.Any(head => head.Any(score => !double.IsFinite(score))))
            throw new InvalidInputException($"the 2-norm statistics of layer {index} are not finite (the activations overflowed on the calibration data); check the weights, or choose --rope-strategy high, low or uniform");
        return scores;
    }
}
