using System.Text.Json;
using System.Text.RegularExpressions;

namespace Mha2Mla.Tokenization;

/// <summary>
/// Builds a <see cref="Tokenizer"/> from tokenizer.json. Every component is checked: one
/// mha2mla does not implement is an error naming it, never silently skipped. truncation and
/// padding are ignored: mha2mla cuts and packs sequences itself (--seq-len).
/// </summary>
public static class TokenizerReader
{
    /// <summary>Reads PATH, or PATH/tokenizer.json when PATH is a directory.</summary>
    public static Tokenizer Read(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, "tokenizer.json");
        if (!File.Exists(path) && new FileInfo(path).LinkTarget is null)
            throw new InvalidInputException($"{path}: no such file; pass a tokenizer.json or a model directory holding one");
        using var document = UserFiles.ReadJson(path);
        if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("model", out _))
            throw new InvalidInputException($"{path}: malformed tokenizer.json (it has no \"model\" object); pass the tokenizer.json that Hugging Face's tokenizers library writes");
        try
        {
            return Build(path, document.RootElement);
        }
        // A field missing or of the wrong kind (a null where a string belongs, an object for an array)
        // surfaces as one of these while the file is interpreted: the file's fault, not ours.
        catch (KeyNotFoundException)
        {
            throw new InvalidInputException($"{path}: malformed tokenizer.json (a field the tokenizer needs is missing, e.g. model.vocab or model.merges)");
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException or IndexOutOfRangeException)
        {
            throw new InvalidInputException($"{path}: malformed tokenizer.json ({e.Message.Split('\n')[0]})");
        }
    }

    private static Tokenizer Build(string path, JsonElement root)
    {
        var where = path;
        var model = root.GetProperty("model");
        var type = model.TryGetProperty("type", out var t) ? t.GetString() : "BPE"; // older files omit it
        if (type != "BPE")
            throw Unsupported(where, "model", type, "BPE");
        if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() > 0)
            throw new InvalidInputException($"{where}: model.dropout is {dropout.GetDouble()}; BPE dropout is for training, and encoding with it is not reproducible");
        foreach (var affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (OptionalString(model, affix) is { Length: > 0 } value)
                throw new InvalidInputException($"{where}: model.{affix} is '{value}'; mha2mla supports BPE without subword affixes");

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        var idToToken = new Dictionary<int, string>();
        foreach (var entry in model.GetProperty("vocab").EnumerateObject())
        {
            var id = entry.Value.GetInt32();
            vocab[entry.Name] = id;
            idToToken[id] = entry.Name;
        }

        var merges = new List<(string, string)>();
        if (model.TryGetProperty("merges", out var mergeArray))
        {
            var index = 0;
            foreach (var merge in mergeArray.EnumerateArray())
            {
                merges.Add(ParseMerge(where, merge, index++));
            }
        }

        var bpe = new BpeModel(vocab, merges, OptionalString(model, "unk_token"),
            Bool(model, "byte_fallback", false), Bool(model, "fuse_unk", false), Bool(model, "ignore_merges", false), where);

        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var addedArray))
            foreach (var a in addedArray.EnumerateArray())
                added.Add(new AddedToken(a.GetProperty("id").GetInt32(), a.GetProperty("content").GetString()!,
                    Bool(a, "special", false), Bool(a, "normalized", true), Bool(a, "lstrip", false), Bool(a, "rstrip", false), Bool(a, "single_word", false)));

        return new Tokenizer(path,
            Component(root, "normalizer", n => Normalizer(where, n)),
            Component(root, "pre_tokenizer", p => PreTokenizer(where, p)),
            bpe,
            Component(root, "post_processor", p => PostProcessor(where, p, vocab, added)),
            Component(root, "decoder", d => Decoder(where, d)),
            added, idToToken);
    }

    private static (string, string) ParseMerge(string where, JsonElement merge, int index)
    {
        if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2 &&
            merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
            return (merge[0].GetString()!, merge[1].GetString()!);
        if (merge.ValueKind == JsonValueKind.String)
        {
            var text = merge.GetString()!;
            var space = text.IndexOf(' ', 1);
            if (space > 0 && space < text.Length - 1) return (text[..space], text[(space + 1)..]);
        }
        throw new InvalidInputException($"{where}: merge {index} ({merge.GetRawText()}) is not a pair of tokens");
    }

    private static T? Component<T>(JsonElement root, string name, Func<JsonElement, T> build) where T : class =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Object ? build(value) : null;

    private static INormalizer Normalizer(string where, JsonElement n) => TypeOf(n) switch
    {
        "NFC" => new UnicodeNormalizer(System.Text.NormalizationForm.FormC),
        "NFD" => new UnicodeNormalizer(System.Text.NormalizationForm.FormD),
        "NFKC" => new UnicodeNormalizer(System.Text.NormalizationForm.FormKC),
        "NFKD" => new UnicodeNormalizer(System.Text.NormalizationForm.FormKD),
        "Lowercase" => new LowercaseNormalizer(),
        "Prepend" => new PrependNormalizer(n.GetProperty("prepend").GetString()!),
        "Strip" => new StripNormalizer(Bool(n, "strip_left", true), Bool(n, "strip_right", true)),
        "Replace" => ReplaceOf(where, n),
        "Sequence" => new SequenceNormalizer(n.GetProperty("normalizers").EnumerateArray().Select(x => Normalizer(where, x)).ToList()),
        var other => throw Unsupported(where, "normalizer", other, "NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Strip, Sequence"),
    };

    private static ReplaceNormalizer ReplaceOf(string where, JsonElement n)
    {
        var pattern = n.GetProperty("pattern");
        var content = n.GetProperty("content").GetString()!;
        if (pattern.TryGetProperty("String", out var literal)) return new ReplaceNormalizer(literal.GetString()!, null, content);
        return new ReplaceNormalizer(null, new Regex(pattern.GetProperty("Regex").GetString()!, RegexOptions.CultureInvariant, OnigurumaRegex.MatchTimeout), content);
    }

    private static IPreTokenizer PreTokenizer(string where, JsonElement p) => TypeOf(p) switch
    {
        "ByteLevel" => new ByteLevelPreTokenizer(Bool(p, "add_prefix_space", true), Bool(p, "use_regex", true)),
        "Split" => SplitOf(where, p),
        "Metaspace" => new MetaspacePreTokenizer(Replacement(p), PrependScheme(p), Bool(p, "split", true)),
        "Digits" => new DigitsPreTokenizer(Bool(p, "individual_digits", false)),
        "Sequence" => new SequencePreTokenizer(p.GetProperty("pretokenizers").EnumerateArray().Select(x => PreTokenizer(where, x)).ToList()),
        var other => throw Unsupported(where, "pre_tokenizer", other, "ByteLevel, Split, Metaspace, Digits, Sequence"),
    };

    private static SplitPreTokenizer SplitOf(string where, JsonElement p)
    {
        var pattern = p.GetProperty("pattern");
        var regex = pattern.TryGetProperty("String", out var literal)
            ? new OnigurumaRegex(Regex.Escape(literal.GetString()!), where)
            : new OnigurumaRegex(pattern.GetProperty("Regex").GetString()!, where);
        var behaviorName = p.GetProperty("behavior").GetString()!;
        if (!Enum.TryParse<SplitBehavior>(behaviorName, out var behavior))
            throw Unsupported(where, "Split behavior", behaviorName, "Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
        return new SplitPreTokenizer(regex, behavior, Bool(p, "invert", false));
    }

    private static IPostProcessor PostProcessor(string where, JsonElement p, Dictionary<string, int> vocab, List<AddedToken> added) => TypeOf(p) switch
    {
        "TemplateProcessing" => TemplateOf(where, p),
        "ByteLevel" => new PassThroughPostProcessor(),
        "RobertaProcessing" or "BertProcessing" => new TemplatePostProcessor(
            [[p.GetProperty("cls")[1].GetInt32()], null, [p.GetProperty("sep")[1].GetInt32()]]),
        "Sequence" => new SequencePostProcessor(p.GetProperty("processors").EnumerateArray().Select(x => PostProcessor(where, x, vocab, added)).ToList()),
        var other => throw Unsupported(where, "post_processor", other, "TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence"),
    };

    private static TemplatePostProcessor TemplateOf(string where, JsonElement p)
    {
        var specials = p.GetProperty("special_tokens");
        var template = new List<int[]?>();
        foreach (var item in p.GetProperty("single").EnumerateArray())
        {
            if (item.TryGetProperty("Sequence", out _))
            {
                template.Add(null);
                continue;
            }
            var name = item.GetProperty("SpecialToken").GetProperty("id").GetString()!;
            if (!specials.TryGetProperty(name, out var special))
                throw new InvalidInputException($"{where}: post_processor template names special token '{name}', which special_tokens does not define");
            template.Add(special.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray());
        }
        return new TemplatePostProcessor(template);
    }

    private static IDecoder Decoder(string where, JsonElement d) => TypeOf(d) switch
    {
        "ByteLevel" => new ByteLevelDecoder(),
        "Metaspace" => new MetaspaceDecoder(Replacement(d), PrependScheme(d) != "never"),
        "Replace" => new ReplaceDecoder(d.GetProperty("pattern").GetProperty("String").GetString()!, d.GetProperty("content").GetString()!),
        "ByteFallback" => new ByteFallbackDecoder(),
        "Fuse" => new FuseDecoder(),
        "Strip" => new StripDecoder(d.GetProperty("content").GetString()![0], d.GetProperty("start").GetInt32(), d.GetProperty("stop").GetInt32()),
        "Sequence" => new SequenceDecoder(d.GetProperty("decoders").EnumerateArray().Select(x => Decoder(where, x)).ToList()),
        var other => throw Unsupported(where, "decoder", other, "ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence"),
    };

    private static char Replacement(JsonElement e) => OptionalString(e, "replacement") is { Length: 1 } r ? r[0] : '▁';

    // Newer files say prepend_scheme; older ones add_prefix_space (true means "always").
    private static string PrependScheme(JsonElement e) =>
        OptionalString(e, "prepend_scheme") ?? (Bool(e, "add_prefix_space", true) ? "always" : "never");

    private static string TypeOf(JsonElement e) =>
        e.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "(no type)";

    private static string? OptionalString(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool Bool(JsonElement e, string name, bool fallback) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => fallback,
        } : fallback;

    private static InvalidInputException Unsupported(string where, string component, string? type, string supported) =>
        new($"{where}: {component} type '{type}' is not supported by mha2mla (supported: {supported})");
}
