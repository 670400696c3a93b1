namespace Mha2Mla.Storage;

/// <summary>One tensor described by a safetensors header; offsets are relative to the data region.</summary>
public sealed record TensorEntry(string Name, ScalarType DType, long[] Shape, long Begin, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public long ByteLength => End - Begin;
}
