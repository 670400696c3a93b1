using System.Diagnostics;

namespace Mha2Mla.Tests.Models;

[Collection(SerialCollection.Name)]
public class MemoryTests
{
    [Fact]
    public void ThousandsOfForwardPassesDoNotGrowMemory()
    {
        using var dir = new TempDir();
        var model = Reference.MakeCheckpoint(dir.Sub("model"), TinyConfigs.Llama(4, 2));
        using var checkpoint = Checkpoint.Open(model);
        using var llama = LlamaModel.Load(checkpoint.Weights, checkpoint.Config, Device.CPU);
        using var noGrad = torch.no_grad();
        var input = torch.tensor<long>([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], [1, 16]).DetachFromDisposeScope();

        void Passes(int count)
        {
            for (var i = 0; i < count; i++)
            {
                using var scope = torch.NewDisposeScope();
                llama.Forward(input).sum().item();
            }
        }

        Passes(300); // let allocator pools and JIT settle
        var rssBefore = Rss(); // collects first: tensors other tests left to the finalizer are freed before counting
        var liveBefore = torch.live_tensors;
        Passes(3000);
        var rssAfter = Rss();

        Assert.Equal(liveBefore, torch.live_tensors);
        // Each pass makes ~150 native tensors; a leak of even one small tensor per pass would show.
        Assert.True(rssAfter - rssBefore < 16 << 20, $"RSS grew by {(rssAfter - rssBefore) >> 20} MiB over 3000 passes");
        input.Dispose();
    }

    [Fact]
    public void GenerationFreesEveryTensorItMakes()
    {
        using var dir = new TempDir();
        var model = Reference.MakeCheckpoint(dir.Sub("model"), TinyConfigs.Llama(4, 2));
        using var checkpoint = Checkpoint.Open(model);
        using var llama = LlamaModel.Load(checkpoint.Weights, checkpoint.Config, Device.CPU);
        foreach (var useCache in new[] { true, false })
        {
            var before = torch.live_tensors;
            Mha2Mla.Decoding.Generator.Generate(llama, [[1, 2, 3], [4, 5]], new Mha2Mla.Decoding.GenerationOptions { MaxNewTokens = 6, UseCache = useCache });
            Assert.True(before == torch.live_tensors, $"cache {useCache}: {torch.live_tensors - before} tensors left for the finalizer");
        }
    }

    private static long Rss()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.WorkingSet64;
    }
}
