namespace Mha2Mla.Data;

/// <summary>What a command was told about its data (--data and the options that go with it).</summary>
public sealed record DataOptions
{
    /// <summary>A file, a directory or a glob (see <see cref="DataFiles"/>).</summary>
    public required string Path { get; init; }
    /// <summary>Window length in tokens; pre-tokenized sequences longer than this are cut.</summary>
    public int? SeqLen { get; init; }
    public string TextField { get; init; } = "text";
    public TokenFileDType TokenFileDType { get; init; } = TokenFileDType.UInt16;
    public bool Shuffle { get; init; }
    public int Seed { get; init; }
    public int? MaxSequences { get; init; }
    /// <summary>Sequences held back for shuffling: a window, so files of any size stream.</summary>
    public int ShuffleBuffer { get; init; } = 10_000;

    /// <summary>Refuses a window or a count that cannot give one next-token target, naming the command's flags.</summary>
    public DataOptions Check(string seqLenFlag = "--seq-len", string countFlag = "--max-sequences")
    {
        if (SeqLen is <= 1) throw new InvalidInputException($"{seqLenFlag} must be at least 2, not {SeqLen}");
        if (MaxSequences is < 1) throw new InvalidInputException($"{countFlag} must be at least 1, not {MaxSequences}");
        return this;
    }
}
