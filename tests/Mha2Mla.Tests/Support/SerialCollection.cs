namespace Mha2Mla.Tests.Support;

/// <summary>Tests that count live native tensors or watch process memory run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "serial";
}
