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

    /// <summary>
    /// The options as a command runs them on <paramref name="config"/>'s model: the window filled
    /// in (<see cref="Configs.ModelConfig.DefaultSequenceLength"/> when absent), a window or a count
    /// that cannot give one next-token target refused, naming the command's flags. The one place
    /// data options are checked and defaulted.
    /// </summary>
    public DataOptions Resolve(Configs.ModelConfig config, string seqLenFlag = "--seq-len", string countFlag = "--max-sequences")
    {
        if (SeqLen is <= 1) throw new InvalidInputException($"{seqLenFlag} must be at least 2, not {SeqLen}");
        if (MaxSequences is < 1) throw new InvalidInputException($"{countFlag} must be at least 1, not {MaxSequences}");
        return this with { SeqLen = SeqLen ?? config.DefaultSequenceLength };
    }
}
