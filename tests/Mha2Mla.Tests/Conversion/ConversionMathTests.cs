using Mha2Mla.Conversion;
using Mha2Mla.Configs;

namespace Mha2Mla.Tests.Conversion;

/// <summary>
/// The pieces of docs/design.md one by one, reached directly: the head layout, the choice of pairs,
/// the 2-norm statistics and the factorization, each against values worked out here from the
/// definitions or against plain PyTorch; then whole converted models on logits and gradients.
/// </summary>
public class ConversionMathTests : IDisposable
{
    private readonly TempDir dir = new();

    [Fact]
    public void HeadLayoutPutsTheKeptPairsFirstThenThePositionFreeDimensions()
    {
        // d_h = 8, kept pairs 1 and 3: first halves 1, 3, second halves 5, 7, then 0, 2, 4, 6.
        Assert.Equal([1, 3, 5, 7], HeadLayout.RopeDims(8, [1, 3]));
        Assert.Equal([1, 3, 5, 7, 0, 2, 4, 6], HeadLayout.RopeFirst(8, [1, 3]));
        // Two heads, each with its own order, as rows of a (2·8)-row projection.
        Assert.Equal([1L, 3, 5, 7, 0, 2, 4, 6, 8, 12, 9, 10, 11, 13, 14, 15],
            HeadLayout.Rows(8, [HeadLayout.RopeFirst(8, [1, 3]), HeadLayout.RopeFirst(8, [0])]));
    }

    [Fact]
    public void TopPairsKeepsTheLargestScoresWithTiesToTheLowerPairAscending()
    {
        Assert.Equal([1, 3], RopeSelection.TopPairs([0.5, 3.0, 1.0, 2.0], 2));
        Assert.Equal([0, 2], RopeSelection.TopPairs([2.0, 1.0, 2.0, 2.0], 2)); // three-way tie → k = 0, 2
        Assert.Equal([0, 1, 2, 3], RopeSelection.TopPairs([1.0, 1.0, 1.0, 1.0], 4));
    }

    [Fact]
    public void FixedStrategiesPickThePairsTheDesignNames()
    {
        Assert.Equal([0, 1, 2, 3], RopeSelection.Fixed(RopeStrategy.High, 64, 4));
        Assert.Equal([28, 29, 30, 31], RopeSelection.Fixed(RopeStrategy.Low, 64, 4));
        Assert.Equal([0, 8, 16, 24], RopeSelection.Fixed(RopeStrategy.Uniform, 64, 4));
        Assert.Equal([0, 10, 21], RopeSelection.Fixed(RopeStrategy.Uniform, 64, 3)); // ⌊i·32/3⌋
    }

    [Fact]
    public void PairNormScoresAreTheProductOfMeanPairNormsSummedOverTheGroup()
    {
        // 2 query heads sharing 1 KV head, d_h = 4 (pairs (0,2) and (1,3)), two samples of 1 and 2 tokens.
        var rng = new Random(5);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var samples = new[] { 1, 2 }.Select(t => (Q: Values(2 * t * 4), K: Values(t * 4), T: t)).ToList();

        var statistics = new PairNormStatistics(heads: 2, kvHeads: 1, headDim: 4);
        using (var scope = torch.NewDisposeScope())
            foreach (var (q, k, t) in samples)
                statistics.Add(torch.tensor<float>(q, [1, 2, t, 4]), torch.tensor<float>(k, [1, 1, t, 4]));
        var scores = statistics.Scores();

        // The definition, element by element: every token weighs the same, whichever sample it is in.
        var tokens = samples.Sum(s => s.T);
        for (var pair = 0; pair < 2; pair++)
        {
            double Norm(float[] x, int heads, int h, int t, int length) =>
                Math.Sqrt(Math.Pow(x[(h * length + t) * 4 + pair], 2) + Math.Pow(x[(h * length + t) * 4 + pair + 2], 2));
            var keyMean = samples.Sum(s => Enumerable.Range(0, s.T).Sum(t => Norm(s.K, 1, 0, t, s.T))) / tokens;
            var queryMeans = Enumerable.Range(0, 2).Sum(h => samples.Sum(s => Enumerable.Range(0, s.T).Sum(t => Norm(s.Q, 2, h, t, s.T))) / tokens);
            Assert.Equal(queryMeans * keyMean, scores[0][pair], 1e-6);
        }
    }

    [Theory]
    [InlineData(SvdMode.Joint)]
    [InlineData(SvdMode.Split)]
    public void TheFactorsReconstructTheRowsTheyReplaceAsWellAsRankRAllows(SvdMode svd)
    {
        // One layer, d = 16, 2 KV heads of d_h = 8, r = 1: W_k,nope has 2·6 rows, W_v 2·8.
        var config = Config(hidden: 16, heads: 4, kvHeads: 2);
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(7);
        using var attention = new LlamaAttention(config, WeightSource.RandomInit(Device.CPU, std: 1.0)); // q, k, v, o ~ N(0, 1)
        int[][] pairs = [[2], [0]];
        var rank = 3; // R = 6 (split: 3 each)
        var width = new UniformRank(rank);
        var settings = new ConversionSettings(RopeStrategy.High, 1, width, svd);
        using var mla = KvFactorization.Factorize(config, attention, new LayerRope(pairs), settings, width.LatentDim(config));

        // Rows as the layout orders them: per KV head the kept pair (2, 6) / (0, 4), then the rest.
        var keyNopeRows = new long[] { 0, 1, 3, 4, 5, 7, 9, 10, 11, 13, 14, 15 };
        var keyRopeRows = new long[] { 2, 6, 8, 12 };
        var keyNope = attention.K.Weight.index_select(0, torch.tensor(keyNopeRows));
        Assert.Equal(attention.K.Weight.index_select(0, torch.tensor(keyRopeRows)).data<float>(), mla.KRope.Weight.data<float>());
        var keyApprox = mla.KUp.Weight.matmul(mla.KvDown.Weight);
        var valueApprox = mla.VUp.Weight.matmul(mla.KvDown.Weight);

        // Eckart–Young, computed by plain PyTorch: the error of the best rank-R approximation.
        var expected = svd == SvdMode.Joint
            ? [BestError(torch.cat([keyNope, attention.V.Weight], 0), 2 * rank)]
            : new[] { BestError(keyNope, rank), BestError(attention.V.Weight, rank) };
        var actual = svd == SvdMode.Joint
            ? [FrobeniusNorm(torch.cat([keyNope - keyApprox, attention.V.Weight - valueApprox], 0))]
            : new[] { FrobeniusNorm(keyNope - keyApprox), FrobeniusNorm(attention.V.Weight - valueApprox) };
        for (var i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 1e-4);

        // q rows are only permuted (head by head, each query head in its KV head's order); W_o is untouched.
        var queryRows = HeadLayout.Rows(8, [HeadLayout.RopeFirst(8, [2]), HeadLayout.RopeFirst(8, [2]), HeadLayout.RopeFirst(8, [0]), HeadLayout.RopeFirst(8, [0])]);
        Assert.Equal(attention.Q.Weight.index_select(0, torch.tensor(queryRows)).data<float>(), mla.Q.Weight.data<float>());
        Assert.Equal(attention.O.Weight.data<float>(), mla.O.Weight.data<float>());
    }

    private double BestError(Tensor m, int rank)
    {
        var file = dir.File($"m-{Guid.NewGuid():N}.f32");
        File.WriteAllBytes(file, m.data<float>().SelectMany(BitConverter.GetBytes).ToArray());
        var script = "import sys,numpy,torch;m=torch.from_numpy(numpy.fromfile(sys.argv[1],dtype='<f4').reshape(int(sys.argv[2]),-1)).double();" +
                     "s=torch.linalg.svdvals(m);print(float(s[int(sys.argv[3]):].pow(2).sum().sqrt()))";
        var result = ProcessRunner.Run(Reference.Python, ["-c", script, file, m.size(0).ToString(), rank.ToString()]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return double.Parse(result.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static double FrobeniusNorm(Tensor m) => Math.Sqrt(m.data<float>().Sum(x => (double)x * x));

    private static ModelConfig Config(int hidden, int heads, int kvHeads) => new()
    {
        ModelType = "llama", HiddenSize = hidden, IntermediateSize = 8, NumHiddenLayers = 1, NumAttentionHeads = heads,
        NumKeyValueHeads = kvHeads, HeadDim = hidden * 2 / heads, VocabSize = 10, MaxPositionEmbeddings = 64,
        RmsNormEps = 1e-6, TieWordEmbeddings = false, QkvBias = false, OutputBias = false,
    };

    // ---- whole models --------------------------------------------------------------------

    private static readonly int[][] Ids =
    [
        [1, 5, 9, 13, 2, 96, 0, 44, 7, 7, 31, 60, 4, 8],
        [3, 3, 3, 4, 80, 12, 19, 55, 1, 2, 90, 11, 23, 42],
    ];

    private string Convert(string model, params string[] options)
    {
        var output = dir.File($"mla-{Guid.NewGuid():N}");
        var result = Support.Cli.Run(["convert", model, "-o", output, .. options]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return output;
    }

    private static float[] OurLogits(string checkpoint)
    {
        using var source = Checkpoint.Open(checkpoint);
        using var model = LlamaModel.Load(source.Weights, source.Config, Device.CPU);
        using var scope = torch.NewDisposeScope();
        return Ids.SelectMany(ids => model.Forward(torch.tensor<long>(ids.Select(i => (long)i).ToArray(), [1, ids.Length])).data<float>()).ToArray();
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= tolerance, $"{what}: max |Δlogit| = {worst:E2}");
    }

    [Theory]
    [InlineData(4, 4, "joint")]
    [InlineData(4, 2, "joint")]
    [InlineData(4, 2, "activation")]
    public void SanityLawOnLogitsEveryPairAtFullRankIsTheOriginalModel(int heads, int kvHeads, string svd)
    {
        var model = Reference.MakeCheckpoint(dir.Sub($"law-{heads}-{kvHeads}-{svd}"), TinyConfigs.Llama(heads, kvHeads), "f32", seed: 9);
        var calib = dir.File($"law-calib-{heads}-{kvHeads}-{svd}.json");
        Reference.Run("ids", calib, "--count", "4", "--length", "32", "--vocab", "97", "--seed", "13");
        var mla = Convert(model, "--rope-strategy", "high", "--rope-pairs", "8", "--kv-rank", "16", "--svd", svd,
            "--calib-data", calib, "--calib-seq-len", "32");
        AssertClose(Reference.Logits(model, Ids, dir.Path), OurLogits(mla), 1e-4, $"full-rank MLA ({svd}) vs the original in plain PyTorch");
    }

    [Fact]
    public void OnTheLayersOwnInputsActivationAwareTruncationBeatsWeightSvdAtEveryRank()
    {
        // Computed by the reference alone (its activation-aware math is what convert is checked against above).
        var model = Reference.MakeCheckpoint(dir.Sub("errors"), TinyConfigs.Llama(4, 2), "f32", seed: 12);
        var calib = dir.File("errors-calib.json");
        Reference.Run("ids", calib, "--count", "6", "--length", "32", "--vocab", "97", "--seed", "14");
        var layers = JsonDocument.Parse(Reference.RunScript("mla_reference.py", "errors", model, "--pairs", "2", "--calib", calib)).RootElement;
        foreach (var layer in layers.EnumerateArray())
        {
            var joint = layer.GetProperty("joint").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            var activation = layer.GetProperty("activation").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            for (var rank = 0; rank < joint.Length - 1; rank++)
                Assert.True(activation[rank] <= joint[rank] * (1 + 1e-9), $"rank {rank + 1}: activation {activation[rank]} > joint {joint[rank]}");
            Assert.True(activation[joint.Length / 2] < joint[joint.Length / 2] * 0.99, "activation-aware truncation should be clearly better mid-rank");
        }
    }

    /// <summary>
    /// A tiny GQA model, calibration data, and mla_reference.py's conversion of it (<paramref name="referenceArgs"/>):
    /// the reference's logits of <see cref="Ids"/> and what it printed (pairs, α).
    /// </summary>
    private (string Model, string Calib, float[] Logits, JsonElement Json) ReferenceConversion(string name, int seed, int calibSeed, params string[] referenceArgs)
    {
        var model = Reference.MakeCheckpoint(dir.Sub(name), TinyConfigs.Llama(4, 2), "f32", seed: seed);
        var calib = dir.File($"{name}-calib.json");
        Reference.Run("ids", calib, "--count", "3", "--length", "24", "--vocab", "97", "--seed", calibSeed.ToString());
        var ids = dir.File($"{name}-ids.json");
        File.WriteAllText(ids, JsonSerializer.Serialize(Ids));
        var logitsFile = dir.File($"{name}-logits.f32");
        var json = Reference.RunScript("mla_reference.py", ["convert", model, .. referenceArgs, "--eval", ids, "--calib", calib, "--logits-ids", ids, "--logits-out", logitsFile]);
        var bytes = File.ReadAllBytes(logitsFile);
        var logits = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, logits, 0, bytes.Length);
        return (model, calib, logits, JsonDocument.Parse(json).RootElement.Clone());
    }

    // RoPE compensation is convert's default for 2-norm and rorope, and the reference's only when told: these
    // conversions say it as the reference was told (ConvertTests compare the default itself).
    private static string[] CompensationAsTheReference(string[] referenceFlags) =>
        referenceFlags.Contains("--rope-compensation") ? [] : ["--rope-compensation", "false"];

    [Theory]
    [InlineData("uniform", "joint")]
    [InlineData("2-norm", "split")]
    public void LogitsEqualTheIndependentReferenceConversion(string strategy, string svd)
    {
        var (model, calib, expected, _) = ReferenceConversion($"ref-{strategy}", 4, 11, "--strategy", strategy, "--pairs", "2", "--kv-rank", "4", "--svd", svd);
        var mla = Convert(model, ["--rope-strategy", strategy, "--rope-pairs", "2", "--kv-rank", "4", "--svd", svd,
            "--calib-data", calib, "--calib-seq-len", "24", .. CompensationAsTheReference([])]);
        AssertClose(expected, OurLogits(mla), 1e-4, $"{strategy}/{svd} vs mla_reference.py");
    }

    [Theory]
    [InlineData("2-norm", "joint", "--rope-score sum")]
    [InlineData("uniform", "joint", "--kv-balance")]
    [InlineData("2-norm", "activation", "--kv-balance --rope-score sum")]
    [InlineData("high", "joint", "--rope-compensation")]
    [InlineData("2-norm", "activation", "--rope-compensation --kv-balance")]
    public void ScoreBalanceAndCompensationEqualTheIndependentReferenceConversion(string strategy, string svd, string flags)
    {
        var extra = flags.Split(' ');
        var (model, calib, expected, reference) = ReferenceConversion($"bkv-{strategy}-{svd}", 5, 12,
            ["--strategy", strategy, "--pairs", "2", "--kv-rank", "4", "--svd", svd, .. extra.Select(f => f == "--rope-score" ? "--score" : f)]);
        var mla = Convert(model, ["--rope-strategy", strategy, "--rope-pairs", "2", "--kv-rank", "4", "--svd", svd, "--calib-data", calib, "--calib-seq-len", "24",
            .. extra, .. CompensationAsTheReference(extra)]);

        var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(mla, "mha2mla_report.json"))).RootElement;
        var settings = report.GetProperty("settings");
        static int[][][] Pairs(JsonElement e) => e.EnumerateArray().Select(l => l.EnumerateArray().Select(h => h.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray()).ToArray();
        Assert.Equal(Pairs(reference.GetProperty("pairs")), Pairs(report.GetProperty("rope").GetProperty("pairs")));
        AssertClose(expected, OurLogits(mla), 1e-4, $"{strategy}/{svd} {flags} vs mla_reference.py");
        if (flags.Contains("--kv-balance"))
        {
            var expectedAlpha = reference.GetProperty("kv_balance").EnumerateArray().Select(a => a.GetDouble()).ToArray();
            var ourAlpha = settings.GetProperty("kv_balance").EnumerateArray().Select(a => a.GetDouble()).ToArray();
            Assert.Equal(expectedAlpha.Length, ourAlpha.Length);
            for (var l = 0; l < ourAlpha.Length; l++) Assert.True(Math.Abs(ourAlpha[l] / expectedAlpha[l] - 1) < 1e-6, $"layer {l}: α {ourAlpha[l]} vs {expectedAlpha[l]}");
        }
        else Assert.Equal(JsonValueKind.Null, settings.GetProperty("kv_balance").ValueKind);
        var compensation = report.GetProperty("rope").GetProperty("compensation");
        if (flags.Contains("--rope-compensation"))
        {
            // M_p of every layer, KV head and pair, against the reference's from the angles θ_p·(t − s) themselves.
            var (ours, theirs) = (Factors(compensation), Factors(reference.GetProperty("rope_compensation")));
            Assert.Equal(theirs.Length, ours.Length);
            var worst = ours.Zip(theirs, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst <= 1e-6, $"RoPE compensation factors differ from the reference's by {worst:E2}");
            Assert.Contains(ours, f => Math.Abs(f) is > 0.01 and < 0.99);   // measured, not the identity
        }
        else Assert.Equal(JsonValueKind.Null, compensation.ValueKind);
        Assert.Equal(flags.Contains("sum") ? "sum" : strategy == "2-norm" ? "product" : null, settings.GetProperty("rope_score").GetString());
    }

    private static double[] Factors(JsonElement e) =>
        e.EnumerateArray().SelectMany(l => l.EnumerateArray().SelectMany(h => h.EnumerateArray().SelectMany(p => p.EnumerateArray().Select(x => x.GetDouble())))).ToArray();

    [Fact]
    public void CompensationWithEveryPairKeptIsTheIdentity()
    {
        var (model, calib, expected, _) = ReferenceConversion("rc-all-pairs", 7, 16, "--strategy", "high", "--pairs", "8", "--kv-rank", "16");
        var mla = Convert(model, "--rope-strategy", "high", "--rope-pairs", "8", "--kv-rank", "16", "--rope-compensation", "--calib-data", calib, "--calib-seq-len", "24");
        AssertClose(expected, OurLogits(mla), 1e-4, "compensated MLA keeping every pair at full rank vs the reference's");
        var factors = Factors(JsonDocument.Parse(File.ReadAllText(Path.Combine(mla, "mha2mla_report.json"))).RootElement.GetProperty("rope").GetProperty("compensation"));
        Assert.All(factors.Chunk(2), f => Assert.Equal([1.0, 0.0], f));
    }

    [Theory]
    [InlineData("1", "joint", "")]
    [InlineData("2", "joint", "--kv-balance")]
    [InlineData("4", "activation", "--kv-balance")]
    [InlineData("2", "joint", "--rope-compensation")]
    public void RoRopeEqualsTheIndependentReferenceConversion(string fold, string svd, string flags)
    {
        // 2 KV heads of d_h = 16: r = 1 keeps 2 pairs in the shared head (fold 4 leaves exactly 2 groups).
        var extra = flags.Length == 0 ? [] : flags.Split(' ');
        var (model, calib, expected, reference) = ReferenceConversion($"rorope-{fold}-{svd}", 8, 17,
            ["--strategy", "rorope", "--fold", fold, "--pairs", "1", "--kv-rank", "4", "--svd", svd, .. extra]);
        var mla = Convert(model, ["--rope-strategy", "rorope", "--freq-fold", fold, "--rope-pairs", "1", "--kv-rank", "4", "--svd", svd,
            "--calib-data", calib, "--calib-seq-len", "24", .. extra, .. CompensationAsTheReference(extra)]);

        var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(mla, "mha2mla_report.json"))).RootElement;
        static int[][][] Pairs(JsonElement e) => e.EnumerateArray().Select(l => l.EnumerateArray().Select(h => h.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray()).ToArray();
        Assert.Equal(Pairs(reference.GetProperty("pairs")), Pairs(report.GetProperty("rope").GetProperty("pairs")));
        AssertClose(expected, OurLogits(mla), 1e-4, $"rorope fold {fold} {svd} {flags} vs mla_reference.py");
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(mla, "config.json"))).RootElement.GetProperty("mla");
        Assert.Equal(3, config.GetProperty("version").GetInt32());
        Assert.Equal(1, config.GetProperty("rope_heads").GetInt32());
        Assert.Equal(2, config.GetProperty("rope_pairs").GetInt32());
        Assert.Equal(int.Parse(fold), report.GetProperty("settings").GetProperty("freq_fold").GetInt32());
        // What RoPE keeps of each chosen group's keys: a share, and more than an even split of the group's n_kv·F components.
        var shares = report.GetProperty("rope").GetProperty("shared_head_energy").EnumerateArray().Select(l => l.EnumerateArray().Select(x => x.GetDouble()).ToArray()).ToArray();
        Assert.All(shares, layer => Assert.All(layer, share => Assert.InRange(share, 1.0 / (2 * int.Parse(fold)), 1.0)));
        var compensation = report.GetProperty("rope").GetProperty("compensation");
        if (flags.Contains("--rope-compensation"))
        {
            // Every pair of every KV head has a position-free rest to compensate: all factors measured, as the reference's.
            var (ours, theirs) = (Factors(compensation), Factors(reference.GetProperty("rope_compensation")));
            Assert.Equal(theirs.Length, ours.Length);
            Assert.True(ours.Zip(theirs, (a, b) => Math.Abs(a - b)).Max() <= 1e-6, "RoPE compensation factors differ from the reference's");
        }
        else Assert.Equal(JsonValueKind.Null, compensation.ValueKind);
    }

    [Fact]
    public void RoRopeLosesNothingWhenEachFrequencysKeysShareOneDirectionAcrossHeads()
    {
        // KV head 1's keys are, pair by pair, a multiple of KV head 0's (the same factor on both coordinates):
        // each frequency's keys span one direction across the heads, which RoRoPE's leading component
        // carries whole. Keeping every frequency (r = 4: 2·4 = 8 = d_h/2 groups) at full latent rank
        // must then be the original model at every distance.
        var model = Reference.MakeCheckpoint(dir.Sub("rorope-law"), TinyConfigs.Llama(4, 2), "f32", seed: 10);
        Reference.RunPython(
            "import sys, os, torch; sys.path.insert(0, sys.argv[2]); from common import load_safetensors, save_safetensors\n" +
            "path = os.path.join(sys.argv[1], 'model.safetensors'); W = load_safetensors(path)\n" +
            "for i in range(2):\n" +
            "    k = W[f'model.layers.{i}.self_attn.k_proj.weight'].clone()\n" +
            "    for p in range(8):\n" +
            "        a = (-1) ** p * (0.4 + 0.15 * p)\n" +
            "        k[16 + p], k[24 + p] = a * k[p], a * k[8 + p]\n" +
            "    W[f'model.layers.{i}.self_attn.k_proj.weight'] = k\n" +
            "save_safetensors(path, W, torch.float32)\n", model);
        var calib = dir.File("rorope-law-calib.json");
        Reference.Run("ids", calib, "--count", "3", "--length", "24", "--vocab", "97", "--seed", "18");
        var mla = Convert(model, "--rope-strategy", "rorope", "--rope-pairs", "4", "--kv-rank", "32", "--calib-data", calib, "--calib-seq-len", "24");
        AssertClose(Reference.Logits(model, Ids, dir.Path), OurLogits(mla), 1e-4, "RoRoPE of rank-1 keys per frequency, full rank, vs the original");
    }

    [Fact]
    public void BalancingAtFullRankChangesNoScore()
    {
        // Keys and values kept exactly (rank 56 = 2·12 position-free key rows + 32 value rows): balancing must be invisible,
        // measured against the reference's partial-RoPE model with no balancing and no truncation.
        var (model, calib, expected, _) = ReferenceConversion("bkv-law", 6, 15, "--strategy", "high", "--pairs", "2", "--kv-rank", "28");
        var mla = Convert(model, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "28", "--kv-balance", "--calib-data", calib, "--calib-seq-len", "24");
        AssertClose(expected, OurLogits(mla), 1e-4, "balanced full-rank MLA vs the reference's partial-RoPE model");
        var alphas = JsonDocument.Parse(File.ReadAllText(Path.Combine(mla, "mha2mla_report.json"))).RootElement
            .GetProperty("settings").GetProperty("kv_balance").EnumerateArray().Select(a => a.GetDouble()).ToArray();
        Assert.All(alphas, a => Assert.True(Math.Abs(a - 1) > 1e-3, $"α = {a}: the test needs keys and values of unequal norm"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GradientsThroughMlaAttentionMatchPlainPyTorch(bool qwen2Biases)
    {
        var config = qwen2Biases ? TinyConfigs.Llama(4, 2).With("model_type", "qwen2") : TinyConfigs.Llama(4, 2, tied: true);
        var model = Reference.MakeCheckpoint(dir.Sub($"grad-{qwen2Biases}"), config, "f32", seed: 6);
        var mla = Convert(model, "--rope-strategy", "uniform", "--rope-pairs", "2", "--kv-rank", "4");
        var idsFile = dir.File($"grad-ids-{qwen2Biases}.json");
        File.WriteAllText(idsFile, JsonSerializer.Serialize(Ids));
        var gradsFile = dir.File($"grads-{qwen2Biases}.safetensors");
        Reference.RunScript("mla_reference.py", "grads", mla, "--ids", idsFile, "--out", gradsFile);

        using var source = Checkpoint.Open(mla);
        using var llama = LlamaModel.Load(source.Weights, source.Config, Device.CPU);
        using var scope = torch.NewDisposeScope();
        foreach (var (_, p) in llama.NamedParameters()) p.requires_grad_();
        var input = torch.tensor<long>(Ids.SelectMany(s => s.Select(i => (long)i)).ToArray(), [Ids.Length, Ids[0].Length]);
        var logits = llama.Forward(input);
        var (b, t, v) = (logits.size(0), logits.size(1), logits.size(2));
        torch.nn.functional.cross_entropy(logits.narrow(1, 0, t - 1).reshape(b * (t - 1), v), input.narrow(1, 1, t - 1).reshape(b * (t - 1))).backward();

        using var expected = Mha2Mla.Storage.SafetensorsFile.Open(gradsFile);
        var names = llama.NamedParameters().Select(p => p.Name).ToList();
        Assert.Contains("model.layers.0.self_attn.kv_down_proj.weight", names);
        Assert.Equal(expected.Tensors.Keys.Order(), names.Order());
        foreach (var (name, p) in llama.NamedParameters())
        {
            var ours = p.grad!.data<float>();
            var theirs = expected.Read(name).data<float>();
            var scale = Math.Max(1e-6, theirs.Max(Math.Abs));
            var worst = ours.Zip(theirs, (x, y) => Math.Abs(x - y)).Max();
            // The position-free key bias adds one constant to a query's every score, which softmax
            // ignores: its true gradient is 0 and both sides hold only rounding noise.
            if (name.EndsWith("k_up_proj.bias", StringComparison.Ordinal)) Assert.True(worst <= 1e-6, $"{name}: max |Δgrad| = {worst:E2}");
            else Assert.True(worst / scale <= 1e-4, $"{name}: max |Δgrad| / max |grad| = {worst / scale:E2}");
        }
    }

    public void Dispose() => dir.Dispose();
}
