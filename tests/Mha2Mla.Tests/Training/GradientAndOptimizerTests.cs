using Mha2Mla.Training;

namespace Mha2Mla.Tests.Training;

/// <summary>Gradients and the AdamW update equal plain PyTorch's; a tiny model can learn a batch by heart.</summary>
public class GradientAndOptimizerTests : IDisposable
{
    private readonly TempDir dir = new();

    private static readonly int[][] Ids =
    [
        [1, 5, 9, 13, 2, 96, 0, 44, 7, 7, 31, 60],
        [3, 3, 3, 4, 80, 12, 19, 55, 1, 2, 90, 11],
    ];

    private static Tensor NextTokenLoss(LlamaModel model, int[][] ids)
    {
        var input = torch.tensor<long>(ids.SelectMany(s => s.Select(i => (long)i)).ToArray(), [ids.Length, ids[0].Length]);
        var logits = model.Forward(input);
        var (b, t, v) = (logits.size(0), logits.size(1), logits.size(2));
        return torch.nn.functional.cross_entropy(logits.narrow(1, 0, t - 1).reshape(b * (t - 1), v),
            input.narrow(1, 1, t - 1).reshape(b * (t - 1)));
    }

    // Longer than two of the explicit attention's causal blocks: backward through the blocks too.
    private static readonly int[][] LongIds = [.. Enumerable.Range(0, 2).Select(s =>
        Enumerable.Range(0, (int)Attention.CausalBlock * 2 + 21).Select(i => (i * (31 + s) + 7) % 97).ToArray())];

    [Theory]
    [InlineData("gqa")]
    [InlineData("qwen2-bias")]
    [InlineData("gqa-long")]
    public void GradientsMatchPyTorchsAutograd(string variant)
    {
        var config = variant.StartsWith("gqa") ? TinyConfigs.Llama(4, 2, tied: true) : TinyConfigs.Llama(4, 2).With("model_type", "qwen2");
        var model = Reference.MakeCheckpoint(dir.Sub(variant), config.With("max_position_embeddings", 2048), "f32");
        var ids = variant.EndsWith("long") ? LongIds : Ids;
        var idsFile = dir.File($"{variant}-ids.json");
        File.WriteAllText(idsFile, JsonSerializer.Serialize(ids));
        var gradsFile = dir.File($"{variant}-grads.safetensors");
        Reference.Run("grads", model, "--ids", idsFile, "--out", gradsFile);

        using var checkpoint = Checkpoint.Open(model);
        using var llama = LlamaModel.Load(checkpoint.Weights, checkpoint.Config, Device.CPU);
        using var scope = torch.NewDisposeScope();
        foreach (var (_, p) in llama.NamedParameters()) p.requires_grad_();
        NextTokenLoss(llama, ids).backward();

        using var expected = SafetensorsFile.Open(gradsFile);
        var checkedCount = 0;
        foreach (var (name, p) in llama.NamedParameters())
        {
            var ours = p.grad!.data<float>();
            var theirs = expected.Read(name).data<float>();
            var scale = Math.Max(1e-6, theirs.Max(Math.Abs));
            var worst = ours.Zip(theirs, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst / scale <= 1e-4, $"{variant} {name}: max |Δgrad| / max |grad| = {worst / scale:E2}");
            checkedCount++;
        }
        Assert.Equal(expected.Tensors.Count, checkedCount);
    }

    [Fact]
    public void AdamWStepsEqualTorchOptimAdamW()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        var parameters = new (string Name, Tensor Value)[] { ("w", torch.randn([6, 5])), ("b", torch.randn([5])) };
        var grads = parameters.Select(p => torch.randn(p.Value.shape)).ToArray();
        var file = dir.File("adamw-in.safetensors");
        SafetensorsWriter.Write(file, parameters.Select(p => ($"param.{p.Name}", p.Value))
            .Concat(parameters.Select((p, i) => ($"grad.{p.Name}", grads[i]))).ToList(), ScalarType.Float32);
        var outFile = dir.File("adamw-out.safetensors");
        Reference.Run("adamw", file, "--steps", "3", "--lr", "0.01", "--weight-decay", "0.1", "--out", outFile);

        var ours = parameters.Select(p => (p.Name, Param: p.Value.clone())).ToList();
        var options = new TrainingOptions { WeightDecay = 0.1 };
        using var optimizer = new AdamW(ours, options);
        for (var step = 0; step < 3; step++)
        {
            for (var i = 0; i < ours.Count; i++)
            {
                ours[i].Param.requires_grad_();
                // Stand in for backward(): give each parameter the saved gradient.
                (ours[i].Param * grads[i]).sum().backward();
            }
            optimizer.Step(0.01);
            optimizer.ZeroGrad();
        }

        using var expected = SafetensorsFile.Open(outFile);
        foreach (var (name, param) in ours)
        {
            var theirs = expected.Read(name).data<float>();
            var worst = param.data<float>().Zip(theirs, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst <= 1e-6, $"{name}: max |Δ| = {worst:E2}");
        }
        // The bias (1-D) is not decayed, the matrix is: both differ from the start.
        Assert.NotEqual(parameters[0].Value.data<float>(), ours[0].Param.data<float>());
    }

    [Fact]
    public void TheLossOfOneRepeatedBatchFallsTowardsZero()
    {
        var model = Reference.MakeCheckpoint(dir.Sub("overfit"), TinyConfigs.Llama(4, 2));
        // Random ids: no context repeats with two different continuations (as "3 3 3 4" would,
        // whose identical prefixes RoPE attention cannot tell apart), so zero loss is reachable.
        var data = dir.File("batch.json");
        Reference.Run("ids", data, "--count", "4", "--length", "17", "--vocab", "97", "--seed", "2");
        var result = new TrainingJob
        {
            Model = model, Output = dir.File("out"), Data = new Mha2Mla.Data.DataOptions { Path = data, SeqLen = 17 },
            Options = new TrainingOptions { Steps = 80, LearningRate = 3e-3, MicroBatch = 4 },
        }.Run();
        var (first, final) = (result.FirstLoss, result.FinalLoss);
        Assert.True(first > 3, $"first loss {first}");
        Assert.True(final < 0.05, $"final loss {final} (from {first})");
    }

    public void Dispose() => dir.Dispose();
}
