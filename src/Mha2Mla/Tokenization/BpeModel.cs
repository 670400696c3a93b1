using System.Text;

namespace Mha2Mla.Tokenization;

/// <summary>
/// Byte-pair encoding as Hugging Face's BPE model does it: a word starts as its characters
/// (or, with byte_fallback, the &lt;0xNN&gt; tokens of a character the vocabulary lacks), then the
/// lowest-ranked adjacent pair is merged, leftmost first on ties, until no listed merge applies.
/// </summary>
public sealed class BpeModel
{
    private readonly Dictionary<string, int> vocab;
    private readonly Dictionary<(int Left, int Right), (int Rank, int Merged)> merges;
    private readonly Dictionary<string, int[]> cache = new(StringComparer.Ordinal);
    private readonly int? unkId;
    private readonly int[] byteIds = new int[256];

    public bool ByteFallback { get; }
    public bool FuseUnk { get; }
    public bool IgnoreMerges { get; }
    public string? UnkToken { get; }

    public BpeModel(Dictionary<string, int> vocab, List<(string Left, string Right)> mergeList, string? unkToken,
        bool byteFallback, bool fuseUnk, bool ignoreMerges, string where)
    {
        this.vocab = vocab;
        UnkToken = unkToken;
        ByteFallback = byteFallback;
        FuseUnk = fuseUnk;
        IgnoreMerges = ignoreMerges;
        if (unkToken is not null)
        {
            if (!vocab.TryGetValue(unkToken, out var id))
                throw new InvalidInputException($"{where}: model.unk_token '{unkToken}' is not in the vocabulary");
            unkId = id;
        }
        for (var b = 0; b < 256; b++) byteIds[b] = vocab.GetValueOrDefault($"<0x{b:X2}>", -1);

        merges = new Dictionary<(int, int), (int, int)>(mergeList.Count);
        for (var rank = 0; rank < mergeList.Count; rank++)
        {
            var (left, right) = mergeList[rank];
            if (!vocab.TryGetValue(left, out var l) || !vocab.TryGetValue(right, out var r))
                throw new InvalidInputException($"{where}: merge {rank} ('{left}' '{right}') names a token that is not in the vocabulary; the file is corrupt");
            if (!vocab.TryGetValue(left + right, out var merged))
                throw new InvalidInputException($"{where}: merge {rank} ('{left}' '{right}') makes '{left + right}', which is not in the vocabulary; the file is corrupt");
            merges.TryAdd((l, r), (rank, merged));
        }
    }

    public int VocabSize => vocab.Count;

    public bool TryGetId(string token, out int id) => vocab.TryGetValue(token, out id);

    /// <summary>Appends the ids of one pre-tokenized word.</summary>
    public void Encode(string word, List<int> output)
    {
        if (word.Length == 0) return;
        if (IgnoreMerges && vocab.TryGetValue(word, out var whole))
        {
            output.Add(whole);
            return;
        }
        if (!cache.TryGetValue(word, out var ids))
        {
            ids = Merge(InitialSymbols(word));
            if (cache.Count > 200_000) cache.Clear(); // bound memory on endless distinct words
            if (word.Length < 256) cache[word] = ids;
        }
        output.AddRange(ids);
    }

    private List<int> InitialSymbols(string word)
    {
        var symbols = new List<int>(word.Length);
        var unkRun = false;
        foreach (var rune in word.EnumerateRunes())
        {
            var text = rune.ToString();
            if (vocab.TryGetValue(text, out var id))
            {
                symbols.Add(id);
                unkRun = false;
                continue;
            }
            if (ByteFallback && TryAddBytes(rune, symbols))
            {
                unkRun = false;
                continue;
            }
            if (unkId is null) continue; // as Hugging Face: no unk token means the character is dropped
            if (!(FuseUnk && unkRun)) symbols.Add(unkId.Value);
            unkRun = true;
        }
        return symbols;
    }

    private bool TryAddBytes(Rune rune, List<int> symbols)
    {
        Span<byte> utf8 = stackalloc byte[4];
        var count = rune.EncodeToUtf8(utf8);
        for (var i = 0; i < count; i++)
            if (byteIds[utf8[i]] < 0) return false;
        for (var i = 0; i < count; i++) symbols.Add(byteIds[utf8[i]]);
        return true;
    }

    // Symbols form a linked list; the queue holds candidate pairs by (rank, position) and stale
    // entries are skipped when popped, so each merge costs O(log n).
    private int[] Merge(List<int> symbols)
    {
        var n = symbols.Count;
        if (n < 2) return [.. symbols];
        var id = symbols.ToArray();
        var next = new int[n];
        var prev = new int[n];
        for (var i = 0; i < n; i++)
        {
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
        }
        var queue = new PriorityQueue<(int Left, int LeftId, int RightId), (int Rank, int Position)>();
        void Consider(int left)
        {
            var right = next[left];
            if (right >= 0 && merges.TryGetValue((id[left], id[right]), out var m))
                queue.Enqueue((left, id[left], id[right]), (m.Rank, left));
        }
        for (var i = 0; i + 1 < n; i++) Consider(i);

        while (queue.TryDequeue(out var candidate, out _))
        {
            var (left, leftId, rightId) = candidate;
            var right = next[left];
            if (id[left] != leftId || right < 0 || id[right] != rightId) continue; // stale
            id[left] = merges[(leftId, rightId)].Merged;
            id[right] = -1;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            if (prev[left] >= 0) Consider(prev[left]);
            Consider(left);
        }

        var result = new List<int>(n);
        for (var i = 0; i >= 0; i = next[i]) result.Add(id[i]);
        return [.. result];
    }
}
