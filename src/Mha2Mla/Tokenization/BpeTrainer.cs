using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mha2Mla.Tokenization;

/// <summary>
/// Trains a byte-level BPE tokenizer (GPT-2's layout) on text: words are cut with GPT-2's
/// regex and written in the byte alphabet; starting from the 256 bytes, the most frequent
/// adjacent pair is merged (ties: the pair of smaller ids) until the vocabulary is full.
/// The result is a standard tokenizer.json with one special token, which the post-processor
/// puts at the start of every text as a document boundary.
/// </summary>
public static class BpeTrainer
{
    public const string BoundaryToken = "<|endoftext|>";

    public static JsonObject Train(IEnumerable<string> documents, int vocabSize)
    {
        if (vocabSize < 258) throw new InvalidInputException($"--vocab-size must be at least 258 (a special token, 256 bytes and one merge), not {vocabSize}");
        var tokens = new List<string> { BoundaryToken };
        tokens.AddRange(Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.CharOf((byte)b).ToString()));
        var idOf = tokens.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i, StringComparer.Ordinal);

        var (words, counts) = CountWords(documents, idOf);
        var pairCounts = new Dictionary<(int, int), long>();
        var pairWords = new Dictionary<(int, int), HashSet<int>>();
        for (var w = 0; w < words.Count; w++) AddPairs(w, words[w], counts[w], pairCounts, pairWords, +1);

        var merges = new List<(string, string)>();
        while (tokens.Count < vocabSize && pairCounts.Count > 0)
        {
            var best = Best(pairCounts);
            if (pairCounts[best] <= 0) break;
            var merged = tokens.Count;
            tokens.Add(tokens[best.Item1] + tokens[best.Item2]);
            merges.Add((tokens[best.Item1], tokens[best.Item2]));
            foreach (var w in pairWords[best].ToList())
            {
                AddPairs(w, words[w], counts[w], pairCounts, pairWords, -1);
                words[w] = Merge(words[w], best, merged);
                AddPairs(w, words[w], counts[w], pairCounts, pairWords, +1);
            }
            pairCounts.Remove(best);
            pairWords.Remove(best);
        }
        return ToJson(tokens, merges);
    }

    private static (List<int[]> Words, List<long> Counts) CountWords(IEnumerable<string> documents, Dictionary<string, int> idOf)
    {
        var pre = new ByteLevelPreTokenizer(addPrefixSpace: false, useRegex: true);
        var frequency = new Dictionary<string, long>(StringComparer.Ordinal);
        var pieces = new List<string>();
        foreach (var document in documents)
        {
            pieces.Clear();
            pre.PreTokenize(document, true, pieces);
            foreach (var piece in pieces) frequency[piece] = frequency.GetValueOrDefault(piece) + 1;
        }
        var ordered = frequency.OrderBy(p => p.Key, StringComparer.Ordinal).ToList(); // deterministic
        return (ordered.Select(p => p.Key.Select(c => idOf[c.ToString()]).ToArray()).ToList(), ordered.Select(p => p.Value).ToList());
    }

    private static void AddPairs(int w, int[] word, long count, Dictionary<(int, int), long> pairCounts,
        Dictionary<(int, int), HashSet<int>> pairWords, int sign)
    {
        for (var i = 0; i + 1 < word.Length; i++)
        {
            var pair = (word[i], word[i + 1]);
            pairCounts[pair] = pairCounts.GetValueOrDefault(pair) + sign * count;
            if (sign > 0)
            {
                if (!pairWords.TryGetValue(pair, out var set)) pairWords[pair] = set = [];
                set.Add(w);
            }
        }
    }

    private static (int, int) Best(Dictionary<(int, int), long> pairCounts)
    {
        var best = (int.MaxValue, int.MaxValue);
        long bestCount = long.MinValue;
        foreach (var (pair, count) in pairCounts)
            if (count > bestCount || (count == bestCount && pair.CompareTo(best) < 0))
                (best, bestCount) = (pair, count);
        return best;
    }

    private static int[] Merge(int[] word, (int, int) pair, int merged)
    {
        var result = new List<int>(word.Length);
        for (var i = 0; i < word.Length; i++)
        {
            if (i + 1 < word.Length && word[i] == pair.Item1 && word[i + 1] == pair.Item2)
            {
                result.Add(merged);
                i++;
            }
            else result.Add(word[i]);
        }
        return [.. result];
    }

    private static JsonObject ToJson(List<string> tokens, List<(string, string)> merges)
    {
        var vocab = new JsonObject();
        for (var i = 0; i < tokens.Count; i++) vocab[tokens[i]] = i;
        var byteLevel = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true };
        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(new JsonObject
            {
                ["id"] = 0, ["content"] = BoundaryToken, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = byteLevel.DeepClone(),
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(
                    new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = BoundaryToken, ["type_id"] = 0 } },
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
                ["pair"] = new JsonArray(
                    new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = BoundaryToken, ["type_id"] = 0 } },
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } },
                    new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = BoundaryToken, ["type_id"] = 1 } },
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "B", ["type_id"] = 1 } }),
                ["special_tokens"] = new JsonObject
                {
                    [BoundaryToken] = new JsonObject { ["id"] = BoundaryToken, ["ids"] = new JsonArray(0), ["tokens"] = new JsonArray(BoundaryToken) },
                },
            },
            ["decoder"] = byteLevel.DeepClone(),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray(merges.Select(m => (JsonNode)new JsonArray(m.Item1, m.Item2)).ToArray()),
            },
        };
    }
}
