using Mha2Mla.Decoding;

namespace Mha2Mla.Tests.Decoding;

/// <summary>
/// Decoding with a KV cache is exact: greedy tokens are identical (a) absorbed against the MLA
/// latent cache, (b) expanded from the cached latent and (c) recomputing the whole prefix with no
/// cache, and the last-position logits agree; the same for the original GQA model, and batched
/// (left-padded) against one prompt at a time. The cache holds exactly what the report says.
/// </summary>
public class DecodingTests : IDisposable
{
    private readonly TempDir dir = new();

    private static readonly int[][] Prompts = [[5, 17, 3, 60, 2], [44, 9], [1, 2, 3, 4, 5, 6, 7, 8, 9], [88]];

    // rorope: one shared rope head (a cache of one rotated key head, queries wider than d_h).
    private (string Original, string Mla) Models(bool qwen2 = false, bool rorope = false)
    {
        var config = qwen2 ? TinyConfigs.Llama(4, 2).With("model_type", "qwen2") : TinyConfigs.Llama(4, 2);
        var original = Reference.MakeCheckpoint(dir.Sub($"original-{qwen2}-{rorope}"), config.With("max_position_embeddings", 128), "f32", seed: 3);
        var mla = dir.File($"mla-{qwen2}-{rorope}");
        string[] strategy = ["--rope-strategy", "uniform"];
        if (rorope)
        {
            var calib = dir.File($"calib-{qwen2}.json");
            Reference.Run("ids", calib, "--count", "3", "--length", "24", "--vocab", "97", "--seed", "19");
            strategy = ["--rope-strategy", "rorope", "--freq-fold", "2", "--calib-data", calib, "--calib-seq-len", "24"];
        }
        var result = Support.Cli.Run(["convert", original, "-o", mla, .. strategy, "--rope-pairs", "2", "--kv-rank", "4"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return (original, mla);
    }

    private static LlamaModel Load(string path)
    {
        using var checkpoint = Checkpoint.Open(path);
        return LlamaModel.Load(checkpoint.Weights, checkpoint.Config, Device.CPU);
    }

    private static int[][] Greedy(LlamaModel model, int[][] prompts, bool cache = true, bool absorb = true, string format = "f32") =>
        Generator.Generate(model, prompts, new GenerationOptions { MaxNewTokens = 64, UseCache = cache, Absorb = absorb, Cache = CacheFormat.Parse(format) })
            .Tokens.ToArray();

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void AbsorbedExpandedAndUncachedDecodingGiveIdenticalTokens(bool qwen2, bool rorope)
    {
        var (_, mlaPath) = Models(qwen2, rorope);
        using var mla = Load(mlaPath);
        foreach (var prompt in Prompts)
        {
            var absorbed = Greedy(mla, [prompt]);
            Assert.Equal(64, absorbed[0].Length);
            Assert.Equal(absorbed, Greedy(mla, [prompt], absorb: false));
            Assert.Equal(absorbed, Greedy(mla, [prompt], cache: false));
            // Plain full-sequence forward over the prompt and its continuation: the same greedy choices.
            using var scope = torch.NewDisposeScope();
            var sequence = prompt.Concat(absorbed[0]).Select(i => (long)i).ToArray();
            var logits = mla.Forward(torch.tensor<long>(sequence, [1, sequence.Length]));
            var vocab = logits.size(2);
            var all = logits.data<float>();
            for (var t = prompt.Length - 1; t < sequence.Length - 1; t++)
                Assert.Equal(sequence[t + 1], Sampler.ArgMax(all.AsSpan((int)(t * vocab), (int)vocab)));
        }
    }

    [Fact]
    public void LastPositionLogitsAgreeWithAndWithoutTheCache()
    {
        var (originalPath, mlaPath) = Models();
        foreach (var path in new[] { originalPath, mlaPath })
        foreach (var absorb in new[] { true, false })
        {
            using var model = Load(path);
            using var scope = torch.NewDisposeScope();
            var sequence = Prompts[2].Select(i => (long)i).ToArray();
            var full = model.Forward(torch.tensor<long>(sequence, [1, sequence.Length])).data<float>();
            var vocab = full.Length / sequence.Length;
            using var cache = new KvCache(model.Config, [0], sequence.Length, CacheFormat.F32, Device.CPU, absorb);
            model.Forward(torch.tensor<long>(sequence[..^1], [1, sequence.Length - 1]), cache);         // prefill
            var step = model.Forward(torch.tensor<long>(sequence[^1..], [1, 1]), cache).data<float>();  // one decode step
            var worst = step.Zip(full.AsSpan(full.Length - vocab).ToArray(), (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst <= 1e-4, $"{Path.GetFileName(path)} absorb={absorb}: max |Δlogit| {worst:E2}");
        }
    }

    [Fact]
    public void BatchedPromptsOfDifferentLengthsDecodeAsOneByOne()
    {
        var (originalPath, mlaPath) = Models();
        foreach (var path in new[] { originalPath, mlaPath })
        {
            using var model = Load(path);
            var batched = Greedy(model, Prompts);
            for (var i = 0; i < Prompts.Length; i++) Assert.Equal(Greedy(model, [Prompts[i]])[0], batched[i]);
        }
    }

    [Theory]
    [InlineData("f32", 4.0)]
    [InlineData("bf16", 2.0)]
    [InlineData("int8", 1.0 + 4.0 / 4)]
    [InlineData("int4", 0.5 + 4.0 / 4)]
    public void TheCacheHoldsWhatTheReportCounts(string format, double bytesPerElement)
    {
        var (_, mlaPath) = Models();
        var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(mlaPath, "mha2mla_report.json"))).RootElement;
        var elements = report.GetProperty("kv_cache").GetProperty("elements_per_token_per_layer").GetProperty("mla").GetInt64(); // R + 2r·n_kv = 8 + 8
        using var model = Load(mlaPath);
        // Group size 4: latent (8 wide) and rotated keys (2r = 4 wide) each get one fp32 scale per 4 elements.
        var result = Generator.Generate(model, [Prompts[0]], new GenerationOptions { MaxNewTokens = 8, Cache = CacheFormat.Parse(format, groupSize: 4) });
        Assert.Equal(elements * model.Config.NumHiddenLayers * bytesPerElement, result.KvCacheBytesPerToken, 9);
    }

    [Fact]
    public void AQuantizedCacheStaysCloseAndEvaluationMeasuresItsCost()
    {
        var (_, mlaPath) = Models();
        var data = dir.File("eval.json");
        Reference.Run("ids", data, "--count", "3", "--length", "40", "--vocab", "97", "--seed", "4");
        double Ppl(string? cache = null)
        {
            using var plan = Mha2Mla.Evaluation.EvaluationJob.Plan(new Mha2Mla.Evaluation.EvaluationOptions
            {
                Model = mlaPath, Data = new Mha2Mla.Data.DataOptions { Path = data }, Cache = cache is null ? null : CacheFormat.Parse(cache),
            });
            return plan.Run().Perplexity;
        }
        var exact = Ppl();
        var f32 = Ppl("f32");
        Assert.True(Math.Abs(f32 - exact) / exact < 1e-5, $"f32 cache {f32} vs exact {exact}"); // the cache path itself is exact (absorbed: other rounding)
        var int8 = Ppl("int8");
        var int4 = Ppl("int4");
        Assert.True(Math.Abs(int8 - exact) / exact < 0.01, $"int8 {int8} vs exact {exact}");
        Assert.True(int4 != exact && Math.Abs(int4 - exact) / exact < 0.2, $"int4 {int4} vs exact {exact}");
    }

    public void Dispose() => dir.Dispose();
}
