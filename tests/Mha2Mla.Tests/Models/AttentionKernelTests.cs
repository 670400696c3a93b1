namespace Mha2Mla.Tests.Models;

/// <summary>
/// PyTorch's scaled_dot_product_attention gives what the explicit softmax(q·kᵀ/√d_h + mask)·v
/// gives (≤ 1e-5 in fp32): GQA, Mistral's sliding window shorter than the sequence, MLA, and the
/// cached forms whose masks are not plain causal (a decode step's rows, a batch's left padding).
/// With libtorch 1.13 the SDPA side is PyTorch's own unfused form: what is tested is how
/// mha2mla calls it (mask convention, is_causal, GQA expansion, MLA keys), the part that is ours.
/// </summary>
public class AttentionKernelTests : IDisposable
{
    private readonly TempDir dir = new();

    private string Original(string name, Dictionary<string, object?> config) =>
        Reference.MakeCheckpoint(dir.Sub(name), config, "f32", seed: 5);

    private string Mla(string original)
    {
        var output = dir.File("mla");
        var result = Support.Cli.Run("convert", original, "-o", output, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "8");
        Assert.True(result.ExitCode == 0, result.ToString());
        return output;
    }

    public static TheoryData<string> Models => ["gqa", "window", "mla"];

    private string PathOf(string model) => model switch
    {
        "gqa" => Original("gqa", TinyConfigs.Llama(4, 2)),
        "window" => Original("window", TinyConfigs.Llama(4, 2).With("model_type", "mistral").With("sliding_window", 5)),
        _ => Mla(Original("for-mla", TinyConfigs.Llama(4, 2).With("model_type", "mistral").With("sliding_window", 5))),
    };

    private static LlamaModel Load(string path)
    {
        using var checkpoint = Checkpoint.Open(path);
        return LlamaModel.Load(checkpoint.Weights, checkpoint.Config, Device.CPU);
    }

    private static readonly long[] Tokens = [5, 17, 3, 60, 2, 44, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 88, 12];

    [Theory]
    [MemberData(nameof(Models))]
    public void AWholeSequenceGivesTheSameLogits(string model) =>
        AssertKernelsAgree(model, loaded => loaded.Forward(torch.tensor<long>(Tokens, [2, Tokens.Length / 2])).data<float>());

    [Theory]
    [MemberData(nameof(Models))]
    public void ALongSequenceInCausalBlocksGivesTheSameLogits(string model)
    {
        // Longer than two blocks and not a multiple of one: the explicit form skips the future blocks.
        var length = (int)Attention.CausalBlock * 2 + 37;
        var tokens = Enumerable.Range(0, length).Select(i => (long)(i * 31 % 97)).ToArray();
        AssertKernelsAgree(model, loaded => loaded.Forward(torch.tensor<long>(tokens, [1, length])).data<float>());
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void CachedStepsWithLeftPaddingGiveTheSameLogits(string model) => AssertKernelsAgree(model, loaded =>
    {
        // Two sequences, the second left-padded by 3: prefill 7 tokens, then 2 steps of one.
        using var cache = new KvCache(loaded.Config, [0, 3], 9, CacheFormat.F32, Device.CPU, absorb: false);
        var prefill = loaded.Forward(torch.tensor<long>(Tokens[..14], [2, 7]), cache).data<float>();
        var first = loaded.Forward(torch.tensor<long>(Tokens[14..16], [2, 1]), cache).data<float>();
        var second = loaded.Forward(torch.tensor<long>(Tokens[16..18], [2, 1]), cache).data<float>();
        return [.. prefill, .. first, .. second];
    });

    // The same logits from the explicit form and from scaled_dot_product_attention.
    private void AssertKernelsAgree(string model, Func<LlamaModel, float[]> logits)
    {
        using var loaded = Load(PathOf(model));
        float[] With(AttentionKernel kernel)
        {
            loaded.AttentionKernel = kernel;
            using var scope = torch.NewDisposeScope();
            return logits(loaded);
        }
        AssertClose(With(AttentionKernel.Explicit), With(AttentionKernel.Sdpa), model);
    }

    [Fact]
    public void OnlyMasksThatArePlainCausalSkipTheTensor()
    {
        using var whole = new AttentionMask(6, Device.CPU);
        Assert.True(whole.IsPlainCausal(null));
        Assert.True(whole.IsPlainCausal(6));      // a window as long as the sequence forbids nothing more
        Assert.False(whole.IsPlainCausal(5));
        using var rows = new AttentionMask(4, 2, 6, Device.CPU);
        Assert.False(rows.IsPlainCausal(null));   // a decode step's rows: bottom-right, not SDPA's top-left
        // Built from the same rule either way: allowed is exactly not forbidden.
        Assert.Equal(whole.Forbidden(5).logical_not().data<bool>(), whole.Allowed(5).data<bool>());
        Assert.Equal(new[] { true, false, false, false, false, false }, whole.Forbidden(5).data<bool>()[30..]);   // row 5: key 0 is 5 back
    }

    private static void AssertClose(float[] expected, float[] actual, string model)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1e-5, $"{model}: max |Δlogit| {worst:E2} between the explicit form and scaled_dot_product_attention");
    }

    public void Dispose() => dir.Dispose();
}
