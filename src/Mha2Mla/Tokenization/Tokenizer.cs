namespace Mha2Mla.Tokenization;

/// <summary>Token ids and the token strings they stand for.</summary>
public sealed record EncodedText(int[] Ids, string[] Tokens);

/// <summary>
/// A Hugging Face tokenizer.json with a BPE model, run the way Hugging Face runs it: added tokens
/// are cut out of the raw text first and never split; each remaining section is normalized,
/// pre-tokenized and byte-pair encoded; the post-processor adds BOS/EOS.
/// Read one with <see cref="TokenizerReader.Read"/>.
/// </summary>
public sealed class Tokenizer
{
    private readonly INormalizer? normalizer;
    private readonly IPreTokenizer? preTokenizer;
    private readonly BpeModel model;
    private readonly IPostProcessor? postProcessor;
    private readonly IDecoder? decoder;
    private readonly AddedTokenSplitter rawAddedTokens;
    private readonly AddedTokenSplitter normalizedAddedTokens;
    private readonly Dictionary<int, string> idToToken;
    private readonly HashSet<int> specialIds;

    public string Source { get; }
    public IReadOnlyList<AddedToken> AddedTokens { get; }

    internal Tokenizer(string source, INormalizer? normalizer, IPreTokenizer? preTokenizer, BpeModel model,
        IPostProcessor? postProcessor, IDecoder? decoder, IReadOnlyList<AddedToken> addedTokens, Dictionary<int, string> idToToken)
    {
        Source = source;
        this.normalizer = normalizer;
        this.preTokenizer = preTokenizer;
        this.model = model;
        this.postProcessor = postProcessor;
        this.decoder = decoder;
        AddedTokens = addedTokens;
        this.idToToken = idToToken;
        foreach (var token in addedTokens) idToToken[token.Id] = token.Content;
        specialIds = addedTokens.Where(t => t.Special).Select(t => t.Id).ToHashSet();
        rawAddedTokens = new AddedTokenSplitter(addedTokens.Where(t => !t.Normalized || normalizer is null));
        normalizedAddedTokens = new AddedTokenSplitter(addedTokens.Where(t => t.Normalized && normalizer is not null)
            .Select(t => t with { Content = normalizer!.Normalize(t.Content) }));
    }

    /// <summary>Largest token id + 1: the embedding rows a model needs for this tokenizer.</summary>
    public int VocabSize => idToToken.Count == 0 ? 0 : idToToken.Keys.Max() + 1;

    /// <summary>Token ids of <paramref name="text"/>, as Hugging Face's <c>encode</c> returns them.</summary>
    public int[] EncodeIds(string text, bool addSpecialTokens = true)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        var words = new List<string>();
        var sections = rawAddedTokens.Split(text);
        for (var s = 0; s < sections.Count; s++)
        {
            var (section, added) = sections[s];
            if (added is not null)
            {
                ids.Add(added.Id);
                continue;
            }
            if (section.Length == 0) continue;
            var normalized = normalizer?.Normalize(section) ?? section;
            foreach (var (piece, normalizedAdded) in normalizedAddedTokens.Split(normalized))
            {
                if (normalizedAdded is not null)
                {
                    ids.Add(normalizedAdded.Id);
                    continue;
                }
                if (piece.Length == 0) continue;
                words.Clear();
                if (preTokenizer is null) words.Add(piece);
                else preTokenizer.PreTokenize(piece, firstSection: s == 0, words);
                foreach (var word in words) model.Encode(word, ids);
            }
        }
        return (postProcessor?.Process(ids, addSpecialTokens) ?? ids).ToArray();
    }

    public EncodedText Encode(string text, bool addSpecialTokens = true)
    {
        var ids = EncodeIds(text, addSpecialTokens);
        return new EncodedText(ids, ids.Select(IdToToken).ToArray());
    }

    public string IdToToken(int id) =>
        idToToken.TryGetValue(id, out var token) ? token
            : throw new InvalidInputException($"token id {id} is not in the vocabulary of {Source} (ids run 0..{VocabSize - 1})");

    public int? TokenToId(string token) =>
        AddedTokens.FirstOrDefault(t => t.Content == token)?.Id ?? (model.TryGetId(token, out var id) ? id : null);

    /// <summary>Text for token ids; <paramref name="skipSpecialTokens"/> drops BOS/EOS and the like.</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        var tokens = ids.Where(id => !(skipSpecialTokens && specialIds.Contains(id))).Select(IdToToken).ToList();
        return decoder is null ? string.Join(' ', tokens) : string.Concat(decoder.Decode(tokens));
    }
}
