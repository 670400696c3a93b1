using Mha2Mla.Tokenization;

namespace Mha2Mla.Data;

/// <summary>
/// Turns data files into token sequences by one documented rule:
/// <list type="number">
/// <item>Files are read in <see cref="DataFiles"/> order; text is tokenized with the model's
/// tokenizer, special tokens included (so each document starts with BOS where the tokenizer adds one).</item>
/// <item>Text documents and raw .bin streams are concatenated into one token stream and cut into
/// consecutive windows of SeqLen tokens; the last, shorter window is kept.</item>
/// <item>Pre-tokenized sequences (.json, .jsonl input_ids) are never joined: each is one sample,
/// cut into windows of SeqLen if it is longer.</item>
/// <item>With Shuffle, sequences pass through a seeded shuffle buffer, so the order is
/// reproducible for a seed and files of any size still stream.</item>
/// </list>
/// Every id is checked against the model's vocabulary.
/// </summary>
public static class SequenceReader
{
    public static IEnumerable<int[]> Read(DataOptions options, Func<Tokenizer>? tokenizer, int vocabSize)
    {
        if (options.SeqLen is <= 1) throw new ArgumentOutOfRangeException(nameof(options), $"a window of {options.SeqLen} tokens has no next-token target; DataOptions.Resolve refuses it");
        var files = DataFiles.Expand(options.Path);
        var sequences = Validate(Cut(files.SelectMany(f => DocumentReader.Read(f, options.TextField, options.TokenFileDType)),
            options, tokenizer), options.Path, vocabSize);
        if (options.Shuffle) sequences = Shuffle(sequences, options.Seed, options.ShuffleBuffer);
        if (options.MaxSequences is { } max) sequences = sequences.Take(max);
        return sequences;
    }

    private static IEnumerable<int[]> Cut(IEnumerable<DataItem> items, DataOptions options, Func<Tokenizer>? tokenizerFactory)
    {
        Tokenizer? tokenizer = null;
        var window = options.SeqLen ?? int.MaxValue;
        var stream = new List<int>();
        foreach (var item in items)
        {
            if (!item.Packed)
            {
                for (var start = 0; start < item.Ids!.Length; start += window)
                    yield return item.Ids[start..Math.Min(item.Ids.Length, start + window)];
                continue;
            }
            if (options.SeqLen is null)
                throw new InvalidInputException($"{options.Path}: text and .bin data are packed into windows, so they need --seq-len");
            if (item.Ids is { } ids) stream.AddRange(ids);
            else
            {
                tokenizer ??= tokenizerFactory?.Invoke()
                    ?? throw new InvalidInputException($"{options.Path}: holds text, and there is no tokenizer to encode it; give a model with tokenizer.json, --tokenizer TOKENIZER.json with --init, or pre-tokenized data");
                stream.AddRange(tokenizer.EncodeIds(item.Text!));
            }
            var taken = 0;
            while (stream.Count - taken >= window)
            {
                yield return stream.GetRange(taken, window).ToArray();
                taken += window;
            }
            stream.RemoveRange(0, taken);
        }
        if (stream.Count > 0) yield return stream.ToArray();
    }

    private static IEnumerable<int[]> Validate(IEnumerable<int[]> sequences, string path, int vocabSize)
    {
        var index = 0;
        foreach (var sequence in sequences)
        {
            foreach (var id in sequence)
                if (id >= vocabSize)
                    throw new InvalidInputException($"{path}: sequence {index} holds token id {id}, outside the model's vocabulary (0..{vocabSize - 1}); was it tokenized for another model?");
            index++;
            yield return sequence;
        }
    }

    /// <summary>A seeded shuffle buffer: fill it, then emit a random element for each new one.</summary>
    public static IEnumerable<T> Shuffle<T>(IEnumerable<T> items, int seed, int bufferSize)
    {
        var random = new Random(seed);
        var buffer = new List<T>(Math.Min(bufferSize, 1024));
        foreach (var item in items)
        {
            if (buffer.Count < bufferSize)
            {
                buffer.Add(item);
                continue;
            }
            var pick = random.Next(buffer.Count);
            yield return buffer[pick];
            buffer[pick] = item;
        }
        // Drain: a Fisher–Yates pass over what is left.
        for (var i = buffer.Count - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (buffer[i], buffer[j]) = (buffer[j], buffer[i]);
        }
        foreach (var item in buffer) yield return item;
    }
}
