using Mha2Mla.Configs;
using Mha2Mla.Export;

namespace Mha2Mla.Tests.Export;

/// <summary>
/// The kernel-shaped layout (export --shape flashmla) refuses a source wider than the kernel takes,
/// before any work, and pads what it writes to exactly the kernel's widths.
/// </summary>
public class KernelShapeTests
{
    private static ModelConfig Config(int heads, int kvHeads, int headDim) => new()
    {
        ModelType = "llama", HiddenSize = 64, IntermediateSize = 8, NumHiddenLayers = 1, NumAttentionHeads = heads,
        NumKeyValueHeads = kvHeads, HeadDim = headDim, VocabSize = 10, MaxPositionEmbeddings = 64,
        RmsNormEps = 1e-6, TieWordEmbeddings = false, QkvBias = false, OutputBias = false,
    };

    [Fact]
    public void AWiderLatentOrRopeHeadIsRefusedNamingWhatToChange()
    {
        var latent = Assert.Throws<InvalidInputException>(() => new DeepSeekV3Layout(Config(8, 8, 128), 4, 520, shape: KernelShape.FlashMla));
        Assert.Contains("takes a latent of 512 and this one is 520 wide", latent.Message);
        Assert.Contains("--kv-rank", latent.Message);
        // 8 KV heads of 2r = 16 rope dims each: 128 > 64.
        var rope = Assert.Throws<InvalidInputException>(() => new DeepSeekV3Layout(Config(8, 8, 128), 8, 256, shape: KernelShape.FlashMla));
        Assert.Contains("takes a rope head of 64 and this one is 128 wide", rope.Message);
        Assert.Contains("--rope-pairs", rope.Message);
        Assert.Contains("is not one of flashmla", Assert.Throws<InvalidInputException>(() => KernelShape.Parse("flashmla2")).Message);
    }

    [Fact]
    public void ThePaddedLayoutHasTheKernelsWidthsAndTheSourceRowsInPlace()
    {
        var config = Config(4, 2, 16);
        var (plain, padded) = (new DeepSeekV3Layout(config, 2, 8), new DeepSeekV3Layout(config, 2, 8, shape: KernelShape.FlashMla));
        Assert.Equal((512, 64, 8, 8), (padded.Latent, padded.RopeDim, padded.SourceLatent, padded.SourceRopeDim));
        Assert.Equal(8 + 8, plain.KvARows().Length);
        var rows = padded.KvARows();
        Assert.Equal(512 + 64, rows.Length);
        var zero = 8 + 8;   // one past the source rows: kv_down_proj (8), k_rope_proj (8)
        Assert.Equal(plain.KvARows().Take(8), rows.Take(8));                           // the latent first
        Assert.All(rows.Skip(8).Take(512 - 8), r => Assert.Equal(zero, r));           // then its padding
        Assert.Equal(plain.KvARows().Skip(8), rows.Skip(512).Take(8));                 // the rope rows, interleaved as before
        Assert.All(rows.Skip(512 + 8), r => Assert.Equal(zero, r));
        // q_proj: per head nope rows, the rope slots, then 64 − 8 zero rows.
        var (q, qPlain) = (padded.QueryRows(), plain.QueryRows());
        Assert.Equal(4 * (12 + 64), q.Length);
        Assert.Equal(qPlain.Take(12 + 8), q.Take(12 + 8));
        Assert.All(q.Skip(12 + 8).Take(56), r => Assert.Equal(4 * 16, r));
        // The latent norm: √(R/R') on the source's weight, zero on the padding.
        using var weight = torch.ones([8]);
        var norm = padded.LatentNormWeight(weight).data<float>();
        Assert.Equal(512, norm.Length);
        Assert.All(norm.Take(8), w => Assert.Equal(Math.Sqrt(8.0 / 512), w, 6));
        Assert.All(norm.Skip(8), w => Assert.Equal(0f, w));
    }

    [Fact]
    public void APaddedLadderStaysALadderAndOtherFrequenciesGetFactorsForEveryPair()
    {
        // The wanted ladder over 8 dims continued over 64: default RoPE with θ' = ratio^−32.
        var wanted = Enumerable.Range(0, 4).Select(p => Math.Pow(0.5, p)).ToArray();
        var rope = DeepSeekV3Layout.Rope(wanted, 10000, 64, 128);
        Assert.Equal("default", rope["rope_type"]!.GetValue<string>());
        Assert.Equal(Math.Pow(0.5, -32), rope["rope_theta"]!.GetValue<double>(), 6);
        var longrope = DeepSeekV3Layout.Rope([1.0, 0.3, 0.2, 0.01], 10000, 64, 128);
        var factors = longrope["short_factor"]!.AsArray().Select(f => f!.GetValue<double>()).ToArray();
        Assert.Equal(32, factors.Length);
        Assert.All(factors.Skip(4), f => Assert.Equal(1.0, f, 12));   // padded pairs: the θ ladder's own frequency
    }
}
