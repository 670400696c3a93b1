using System.Text.Json.Nodes;

namespace Mha2Mla.Tests.Storage;

public class SafetensorsTests
{
    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void WhatTheWriterWritesTheReaderReadsBack(ScalarType diskType)
    {
        using var dir = new TempDir();
        using var scope = torch.NewDisposeScope();
        // Values exactly representable in every disk type, so the round trip is exact.
        var a = torch.tensor<float>([0.5f, -1.25f, 2f, 0f, 96f, -0.0078125f], [2, 3]);
        var b = torch.tensor<float>([3f], [1]);
        var empty = torch.zeros([0, 4]);
        var path = dir.File("x.safetensors");
        SafetensorsWriter.Write(path, [("a", a), ("b", b), ("empty", empty)], diskType, new Dictionary<string, string> { ["format"] = "pt" });

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(diskType, file.Tensors["a"].DType);
        Assert.Equal([2L, 3L], file.Tensors["a"].Shape);
        Assert.Equal(a.data<float>(), file.Read("a").data<float>());
        Assert.Equal(b.data<float>(), file.Read("b").data<float>());
        Assert.Equal([0L, 4L], file.Read("empty").shape);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp-*"));
    }

    [Fact]
    public void AFailedWriteLeavesThePreviousFileAndNoTemporary()
    {
        using var dir = new TempDir();
        var path = dir.File("x.safetensors");
        using var good = torch.ones([4]);
        SafetensorsWriter.Write(path, [("good", good)], ScalarType.Float32);
        var before = File.ReadAllBytes(path);

        var disposed = torch.ones([4]);
        disposed.Dispose(); // writing it fails after the header is out
        Assert.ThrowsAny<Exception>(() => SafetensorsWriter.Write(path, [("good", good), ("gone", disposed)], ScalarType.Float32));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp-*"));
    }

    [Fact]
    public void HeaderErrorsNameTheFileAndTheTensor()
    {
        using var dir = new TempDir();
        var path = dir.File("x.safetensors");
        using var t = torch.ones([2, 2]);
        SafetensorsWriter.Write(path, [("w", t), ("v", t)], ScalarType.Float32);

        SafetensorsSurgery.EditHeader(path, h => h["w"]!["shape"] = new JsonArray(3, 2));
        var error = Assert.Throws<InvalidInputException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("'w'", error.Message);
        Assert.Contains("24 bytes but its data_offsets span 16", error.Message);
    }

    [Fact]
    public void NegativeOrFractionalShapesAreRejected()
    {
        using var dir = new TempDir();
        var path = dir.File("x.safetensors");
        using var t = torch.ones([2]);
        SafetensorsWriter.Write(path, [("w", t)], ScalarType.Float32);
        SafetensorsSurgery.EditHeader(path, h => h["w"]!["shape"] = new JsonArray(-2));
        Assert.Contains("non-negative integer", Assert.Throws<InvalidInputException>(() => SafetensorsFile.Open(path)).Message);
    }
}
