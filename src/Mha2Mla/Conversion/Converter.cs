namespace Mha2Mla.Conversion;

/// <summary>
/// Converts a checkpoint to MLA one decoder layer at a time: only that layer's weights, the
/// calibration hidden states (2-norm) and, briefly, the embedding are in memory. Each converted
/// layer — a new <see cref="DecoderLayer"/> whose attention is an <see cref="MlaAttention"/>,
/// around the original norms and MLP — goes to <c>onLayer</c> as soon as it exists; the caller
/// owns it from then on (writes and frees it, or keeps it to run).
/// Shared pairs (--rope-shared) and a KV budget each take a first pass over the layers that keeps
/// only scores or singular values. The passes share the pair scores (<see cref="CalibrationCache"/>);
/// a pass that needs the inputs' covariance calibrates again rather than keep every layer's, so
/// memory stays one layer.
/// </summary>
public static class Converter
{
    /// <param name="settings">Resolved and checked for the model (<see cref="ConversionJob.Plan"/>).</param>
    /// <param name="calibration">Token sequences; needed by 2-norm, activation SVD and the latent norm.</param>
    /// <param name="log">Progress of the first passes (--rope-shared, --kv-budget).</param>
    /// <param name="cache">Calibration statistics of earlier conversions of this model on this data, reused and filled
    /// (the passes of one conversion share one even when the caller gives none).</param>
    /// <param name="device">Where the layers, the calibration states and the SVDs live (one layer at a time there too);
    /// the converted layers stay on it.</param>
    /// <returns>The config.json "mla" section describing what was done, and the report's per-layer RoPE facts (pairs, compensation, shared-head energy).</returns>
    public static (MlaSettings Mla, ConversionReport.RopeReport Rope) Convert(Checkpoint source, ConversionSettings settings, IReadOnlyList<int[]>? calibration,
        Action<int, DecoderLayer> onLayer, Action<string>? log = null, CalibrationCache? cache = null, Device? device = null)
    {
        var on = device ?? Device.CPU;
        var config = source.Config;
        if (settings.NeedsCalibration && (calibration is null || calibration.Count == 0))
            throw new InvalidInputException("the conversion needs calibration data (2-norm, rorope, --svd activation, --latent-norm, --kv-balance or --rope-compensation), and --calib-data holds no sequences");

        var shareScores = settings.RopeShared && settings.Strategy == RopeStrategy.TwoNorm;
        using var ownCache = cache is null && (settings.Width is KvBudget || shareScores) ? new CalibrationCache(keepCovariance: false) : null;
        cache ??= ownCache;
        var shared = shareScores ? SharedPairs(source, settings, calibration, cache!, on, log) : null;
        var widths = settings.Width switch
        {
            KvBudget budget => BudgetWidths(source, settings, calibration, cache!, shared, budget, on, log),
            UniformRank uniform => Enumerable.Repeat(uniform.LatentDim(config), config.NumHiddenLayers).ToArray(),
            _ => throw new ArgumentException($"no latent width of kind {settings.Width.GetType().Name}"),
        };

        var balance = settings.KvBalance ? new double[config.NumHiddenLayers] : null;
        var compensation = settings.RopeCompensation ? new double[config.NumHiddenLayers][][][] : null;
        var energy = settings.Strategy == RopeStrategy.RoRope ? new double[config.NumHiddenLayers][] : null;
        var kept = Walk(source, settings, calibration, cache, shared, on, (l, attention, original, rope, calibrated) =>
        {
            MlaAttention mla;
            try
            {
                var rotations = Rotations(settings, rope, calibrated);
                if (compensation is not null)
                    compensation[l] = rotations!.Select(head => head.Select(r => new[] { r.C, r.S }).ToArray()).ToArray();
                if (energy is not null) energy[l] = rope.SharedHead!.EnergyShares;
                var alpha = balance is null ? 1.0 : balance[l] = KvFactorization.BalanceFactor(config, attention, rope, settings, calibrated!.Covariance!, rotations);
                mla = KvFactorization.Factorize(config, attention, rope, settings, widths[l], calibrated?.Covariance, alpha, rotations);
            }
            catch
            {
                original.Dispose();
                throw;
            }
            // The layer goes on with MLA attention around its original norms and MLP.
            original.ReplaceAttention(mla);
            onLayer(l, original);
        });
        var rorope = settings.Strategy == RopeStrategy.RoRope;
        var mla = new MlaSettings(MlaSettings.VersionFor(rorope), rorope ? settings.SharedRopePairs(config) : settings.RopePairs, (settings.Width as UniformRank)?.KvRank, widths,
            settings.StrategyName, settings.SvdName, kept, (settings.Width as KvBudget)?.Text, settings.LatentNorm, settings.RopeShared,
            settings.Strategy == RopeStrategy.TwoNorm ? RopeSelection.Name(settings.Score) : null, balance,
            RopeHeads: rorope ? 1 : null, FreqFold: rorope ? settings.FreqFold : null);
        return (mla, new ConversionReport.RopeReport(kept, compensation, energy));
    }

    // --rope-shared: one pass scores every layer; each KV head keeps the pairs with the best score summed over layers.
    private static int[][] SharedPairs(Checkpoint source, ConversionSettings settings, IReadOnlyList<int[]>? calibration, CalibrationCache cache, Device device, Action<string>? log)
    {
        var config = source.Config;
        Walk(source, settings, calibration, cache, null, device, (l, _, original, _, _) =>
        {
            original.Dispose(); // and its attention
            log?.Invoke($"layer {l + 1}/{config.NumHiddenLayers} scored for --rope-shared");
        });
        var scores = Enumerable.Range(0, config.NumHiddenLayers).Select(l => Scores(cache[l].Norms, settings.Score, l)).ToArray();
        var shared = Enumerable.Range(0, config.NumKeyValueHeads).Select(j => RopeSelection.TopPairs(
            Enumerable.Range(0, config.HeadDim / 2).Select(k => scores.Sum(layer => layer[j][k])).ToArray(), settings.RopePairs)).ToArray();
        log?.Invoke($"--rope-shared: pairs {string.Join(" | ", shared.Select(p => string.Join(",", p)))} in every layer");
        return shared;
    }

    // --kv-budget: one pass measures what each step of width would remove in each layer; the steps go to the largest gains.
    private static int[] BudgetWidths(Checkpoint source, ConversionSettings settings, IReadOnlyList<int[]>? calibration, CalibrationCache cache, int[][]? shared,
        KvBudget budget, Device device, Action<string>? log)
    {
        var config = source.Config;
        var gains = new double[config.NumHiddenLayers][];
        Walk(source, settings, calibration, cache, shared, device, (l, attention, original, rope, calibrated) =>
        {
            var rotations = Rotations(settings, rope, calibrated);
            var alpha = settings.KvBalance ? KvFactorization.BalanceFactor(config, attention, rope, settings, calibrated!.Covariance!, rotations) : 1.0;
            gains[l] = KvFactorization.StepGains(config, attention, rope, settings, calibrated?.Covariance, alpha, rotations);
            original.Dispose(); // and its attention
            log?.Invoke($"layer {l + 1}/{config.NumHiddenLayers} measured for --kv-budget {budget.Text}");
        });
        var widths = RankAllocation.Allocate(gains, settings.WidthStep(config), budget.LatentTotal(config, settings.RopePairs));
        log?.Invoke($"--kv-budget {budget.Text}: latent widths {string.Join(",", widths)}");
        return widths;
    }

    /// <summary>
    /// One layer as the walk hands it over: the layer (the visitor owns it) and its attention, the
    /// RoPE it keeps, and — where the settings need calibration — its statistics (not the visitor's).
    /// </summary>
    private delegate void LayerVisitor(int index, LlamaAttention attention, DecoderLayer original, LayerRope rope, LayerCalibration? calibrated);

    // RoPE compensation's factors for this layer, the kept pairs' set to the identity; null without compensation.
    // rorope keeps no pair of a KV head whole: every pair's position-free rest is compensated.
    private static (double C, double S)[][]? Rotations(ConversionSettings settings, LayerRope rope, LayerCalibration? calibrated)
    {
        if (!settings.RopeCompensation) return null;
        var measured = calibrated!.Rotations!.Factors();
        if (rope.SharedHead is not null) return measured;
        return measured.Select((head, j) => head.Select((r, k) => rope.Pairs[j].Contains(k) ? (1.0, 0.0) : r).ToArray()).ToArray();
    }

    /// <summary>
    /// Reads the layers one by one, calibrates each (moving the calibration states through it, unless
    /// the cache holds every layer's statistics already) and chooses its pairs.
    /// </summary>
    /// <returns>The pairs of every layer.</returns>
    /// <param name="shared">Pairs for every layer (--rope-shared), instead of each layer's own choice.</param>
    private static int[][][] Walk(Checkpoint source, ConversionSettings settings, IReadOnlyList<int[]>? calibration, CalibrationCache? cache, int[][]? shared,
        Device device, LayerVisitor visit)
    {
        var config = source.Config;
        var weights = WeightSource.Checkpoint(source.Weights, device);
        var pairs = new int[config.NumHiddenLayers][][];

        using var noGrad = torch.no_grad();
        var (covariance, rotations) = (settings.NeedsCovariance, settings.RopeCompensation);
        var cached = cache is not null && settings.NeedsCalibration && cache.Covers(config.NumHiddenLayers, covariance, rotations);
        using var states = settings.NeedsCalibration && !cached ? new CalibrationStates(source, calibration!, device) : null;
        for (var l = 0; l < config.NumHiddenLayers; l++)
        {
            var original = new DecoderLayer(config, l, weights.Under(LlamaModel.LayerName(l)));
            var attention = (LlamaAttention)original.Attention;
            using var scope = torch.NewDisposeScope();
            LayerCalibration? calibrated;
            try
            {
                if (cached) calibrated = cache![l];
                else if (states is null) calibrated = null;
                else
                {
                    calibrated = Calibrate(config, original, attention, states, covariance || cache?.KeepCovariance == true, rotations || cache?.KeepRotations == true);
                    cache?.Put(l, calibrated);
                }
            }
            catch
            {
                original.Dispose(); // and its attention
                throw;
            }
            var rope = shared is not null ? new LayerRope(shared) : settings.Strategy switch
            {
                RopeStrategy.TwoNorm => new LayerRope(Scores(calibrated!.Norms, settings.Score, l).Select(s => RopeSelection.TopPairs(s, settings.RopePairs)).ToArray()),
                RopeStrategy.RoRope => LayerRope.Shared(RoRope.Analyze(config, attention.K.Weight, calibrated!.Covariance!, settings.FreqFold, settings.SharedRopePairs(config))),
                _ => new LayerRope(Enumerable.Repeat(RopeSelection.Fixed(settings.Strategy, config.HeadDim, settings.RopePairs), config.NumKeyValueHeads).ToArray()),
            };
            pairs[l] = rope.Pairs;
            visit(l, attention, original, rope, calibrated);
        }
        return pairs;
    }

    // A layer's 2-norm scores, refused where the activations overflowed.
    private static double[][] Scores(PairNormStatistics norms, RopeScore combine, int index)
    {
        var scores = norms.Scores(combine);
        if (scores.Any(head => head.Any(score => !double.IsFinite(score))))
            throw new InvalidInputException($"the calibration statistics of layer {index} are not finite (the activations overflowed on the calibration data); check the weights, or choose --rope-strategy high, low or uniform");
        return scores;
    }

    /// <summary>
    /// Measures this layer on the calibration states — the norms of its pairs and, when asked, the
    /// mean rotations its attention weights give each pair and XᵀX/n of the normed inputs of its
    /// K/V projections (fp64, d × d: it accumulates while the samples stream, whatever their
    /// number) — then moves the states through the layer.
    /// </summary>
    private static LayerCalibration Calibrate(ModelConfig config, DecoderLayer layer, LlamaAttention attention,
        CalibrationStates states, bool covariance, bool rotations)
    {
        var statistics = new PairNormStatistics(config.NumAttentionHeads, config.NumKeyValueHeads, config.HeadDim);
        var rotated = rotations ? new MeanRotations(config.NumAttentionHeads, config.NumKeyValueHeads, config.HeadDim) : null;
        var sum = covariance ? torch.zeros([config.HiddenSize, config.HiddenSize], ScalarType.Float64, states.Device) : null;
        long tokens = 0;
        for (var i = 0; i < states.Count; i++)
        {
            using (torch.NewDisposeScope())
            {
                var x = states[i];
                var length = x.size(1);
                var normed = layer.InputNorm.Forward(x);
                if (sum is not null)
                {
                    var inputs = normed.reshape(length, config.HiddenSize).to(ScalarType.Float64);
                    sum.add_(inputs.transpose(0, 1).matmul(inputs));
                    tokens += length;
                }
                var query = attention.Q.Forward(normed).view(1, length, config.NumAttentionHeads, config.HeadDim).transpose(1, 2);
                var key = attention.K.Forward(normed).view(1, length, config.NumKeyValueHeads, config.HeadDim).transpose(1, 2);
                statistics.Add(query, key);
                if (rotated is not null)
                {
                    var (cos, sin) = states.RopeTables(length);
                    rotated.Add(MeanRotations.AttentionWeights(config, query, key, cos, sin, states.Mask(length).Forbidden(attention.SlidingWindow)), cos, sin);
                }
            }
            states.Advance(i, layer);
        }
        return new LayerCalibration(statistics, rotated, sum is null ? null : sum / tokens);
    }
}
