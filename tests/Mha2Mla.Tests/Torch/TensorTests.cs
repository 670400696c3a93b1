namespace Mha2Mla.Tests.Torch;

public class TensorTests
{
    [Fact]
    public void ShapeMismatchBecomesAManagedExceptionWithLibtorchsMessage()
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.ones([2, 3]);
        var b = torch.ones([4, 5]);
        var error = Assert.Throws<TorchException>(() => a.matmul(b));
        Assert.Contains("cannot be multiplied", error.Message);
        // The engine is still usable afterwards, and the error does not linger.
        Assert.Equal(6.0, a.sum().item());
    }

    [Fact]
    public void MatmulAgreesWithASchoolbookProduct()
    {
        using var scope = torch.NewDisposeScope();
        var rng = new Random(1);
        float[] a = Enumerable.Range(0, 6 * 5).Select(_ => (float)rng.NextDouble()).ToArray();
        float[] b = Enumerable.Range(0, 5 * 4).Select(_ => (float)rng.NextDouble()).ToArray();
        var product = torch.tensor<float>(a, [6, 5]).matmul(torch.tensor<float>(b, [5, 4])).data<float>();
        for (var i = 0; i < 6; i++)
        for (var j = 0; j < 4; j++)
        {
            double expected = 0;
            for (var k = 0; k < 5; k++) expected += a[i * 5 + k] * b[k * 4 + j];
            Assert.Equal(expected, product[i * 4 + j], 5);
        }
    }

    [Fact]
    public unsafe void Bfloat16BytesWidenToTheSameFloats()
    {
        // bf16 is the upper half of an fp32: 1.5f = 0x3FC00000 -> 0x3FC0, -2.0f = 0xC0000000 -> 0xC000.
        ushort[] raw = [0x3FC0, 0xC000, 0x0000, 0x4049];
        Tensor t;
        fixed (ushort* p = raw) t = torch.from_buffer(p, [4], ScalarType.BFloat16, ScalarType.Float32);
        using (t)
            Assert.Equal([1.5f, -2.0f, 0f, 3.140625f], t.data<float>());
    }

    [Fact]
    public void DeviceParsingAcceptsCpuAndCudaForms()
    {
        Assert.Equal(Device.CPU, Device.Parse("cpu"));
        Assert.Equal(new Device(DeviceType.CUDA, 1), Device.Parse("cuda:1"));
        Assert.Throws<ArgumentException>(() => Device.Parse("tpu"));
    }

    [Fact]
    public void AskingForCudaWhereThereIsNoneIsAnInputError()
    {
        if (torch.cuda.is_available()) return; // on a CUDA build this is a valid request
        var error = Assert.Throws<InvalidInputException>(() => Runtime.ResolveDevice("cuda"));
        Assert.Contains("--device cpu", error.Message);
    }
}

[Collection(SerialCollection.Name)]
public class DisposeScopeTests
{
    private static long Live()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return torch.live_tensors;
    }

    [Fact]
    public void AScopeFreesEveryIntermediateAndKeepsWhatMovesOut()
    {
        var before = Live();
        Tensor kept;
        using (var scope = torch.NewDisposeScope())
        {
            var x = torch.randn([8, 8]);
            var y = (x * 2 + 1).matmul(x).neg();
            kept = scope.MoveToOuter(y.sum());
            Assert.True(torch.live_tensors >= before + 5);
        }
        Assert.Equal(before + 1, torch.live_tensors);
        Assert.False(kept.IsClosed);
        kept.Dispose();
        Assert.Equal(before, torch.live_tensors);
    }

    [Fact]
    public void NestedScopesUnwindInOrder()
    {
        var before = Live();
        using (var outer = torch.NewDisposeScope())
        {
            torch.ones([2]);
            using (var inner = torch.NewDisposeScope())
            {
                var t = torch.ones([3]);
                inner.MoveToOuter(t);
                torch.ones([4]);
            }
            Assert.Equal(before + 2, torch.live_tensors);
        }
        Assert.Equal(before, torch.live_tensors);
    }
}
