using Mha2Mla.Tokenization;

namespace Mha2Mla.Training;

/// <summary>A micro-batch: token ids (B, T) and next-token targets (B, T−1), −100 where padded.</summary>
public sealed record Batch(Tensor Inputs, Tensor Targets, long Tokens) : IDisposable
{
    public void Dispose()
    {
        Inputs.Dispose();
        Targets.Dispose();
    }
}

/// <summary>
/// Endless, reproducible micro-batches: epoch e reads the data shuffled with seed + e, and the
/// stream's position is just how many sequences it has handed out, so a resumed run re-reads
/// and skips to exactly where the interrupted one stopped.
/// </summary>
public sealed class BatchStream
{
    public const int IgnoreIndex = -100;

    private readonly DataOptions data;
    private readonly Func<Tokenizer>? tokenizer;
    private readonly int vocabSize;
    private readonly int batchSize;
    private readonly Device device;
    private IEnumerator<int[]>? epoch;
    private int epochIndex;
    private long epochLength; // sequences in one pass over the data, counted during the first

    /// <summary>The data this stream reads (seed included).</summary>
    public DataOptions Data => data;

    /// <summary>Sequences handed out since the start of training.</summary>
    public long Position { get; private set; }

    public BatchStream(DataOptions data, Func<Tokenizer>? tokenizer, int vocabSize, int batchSize, Device device)
    {
        this.data = data;
        this.tokenizer = tokenizer;
        this.vocabSize = vocabSize;
        this.batchSize = batchSize;
        this.device = device;
    }

    /// <summary>Moves to <paramref name="position"/> sequences from the start, as after that many were used.</summary>
    public void Seek(long position)
    {
        epoch = null;
        epochIndex = 0;
        Position = 0;
        while (Position < position) NextSequence();
    }

    public Batch Next()
    {
        var sequences = new List<int[]>(batchSize);
        var skipped = 0L;
        while (sequences.Count < batchSize)
        {
            var sequence = NextSequence();
            if (sequence.Length >= 2)
            {
                sequences.Add(sequence);
                skipped = 0;
            }
            // Two whole epochs in a row without a usable sequence (a run of short ones may span an
            // epoch's end): there is none, and waiting would never end.
            else if (++skipped > 2 * Math.Max(epochLength, 1))
                throw new InvalidInputException($"{data.Path}: no sequence has the 2 tokens a training pair needs (input and next token); give longer documents or a larger --seq-len");
        }
        return Collate(sequences);
    }

    private int[] NextSequence()
    {
        while (true)
        {
            epoch ??= SequenceReader.Read(data with { Shuffle = true, Seed = data.Seed + epochIndex }, tokenizer, vocabSize).GetEnumerator();
            if (epoch.MoveNext())
            {
                Position++;
                if (epochIndex == 0) epochLength++;
                return epoch.Current;
            }
            if (Position == 0 && epochIndex == 0)
                throw new InvalidInputException($"{data.Path}: holds no sequences to train on");
            epoch.Dispose();
            epoch = null;
            epochIndex++;
        }
    }

    // Right-padding: a causal model never lets real positions see the padding after them.
    private Batch Collate(List<int[]> sequences)
    {
        var length = sequences.Max(s => s.Length);
        var inputs = new long[sequences.Count * length];
        var targets = new long[sequences.Count * (length - 1)];
        Array.Fill(targets, IgnoreIndex);
        long tokens = 0;
        for (var b = 0; b < sequences.Count; b++)
        {
            var s = sequences[b];
            for (var t = 0; t < s.Length; t++) inputs[b * length + t] = s[t];
            for (var t = 0; t + 1 < s.Length; t++) targets[b * (length - 1) + t] = s[t + 1];
            tokens += s.Length - 1;
        }
        using var scope = torch.NewDisposeScope();
        var inputTensor = torch.tensor<long>(inputs, [sequences.Count, length]).to(device);
        var targetTensor = torch.tensor<long>(targets, [sequences.Count, length - 1]).to(device);
        return new Batch(scope.Detach(inputTensor), scope.Detach(targetTensor), tokens);
    }
}
