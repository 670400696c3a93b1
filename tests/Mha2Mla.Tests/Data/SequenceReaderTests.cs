using System.Buffers.Binary;
using Mha2Mla.Data;
using Mha2Mla.Tokenization;

namespace Mha2Mla.Tests.Data;

public class SequenceReaderTests : IDisposable
{
    private readonly TempDir dir = new();

    private List<int[]> Read(string path, int? seqLen = null, Func<Tokenizer>? tokenizer = null, int vocab = 100_000) =>
        SequenceReader.Read(new DataOptions { Path = path, SeqLen = seqLen }, tokenizer, vocab).ToList();

    [Fact]
    public void PreTokenizedSequencesStayWholeAndAreCutOnlyWhenLonger()
    {
        var path = dir.File("ids.json");
        File.WriteAllText(path, "[[1,2,3],[4,5,6,7,8,9,10],[],[11]]");
        var sequences = Read(path, seqLen: 4);
        Assert.Equal([[1, 2, 3], [4, 5, 6, 7], [8, 9, 10], [11]], sequences);
    }

    [Fact]
    public void RawTokenStreamsArePackedIntoWindowsAndTheShortTailIsKept()
    {
        var path = dir.File("tokens.bin");
        var bytes = new byte[10 * 2];
        for (var i = 0; i < 10; i++) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), (ushort)(i + 500));
        File.WriteAllBytes(path, bytes);
        Assert.Equal([[500, 501, 502, 503], [504, 505, 506, 507], [508, 509]], Read(path, seqLen: 4));
    }

    [Fact]
    public void Uint32TokenFilesAndTheirSizeCheck()
    {
        var path = dir.File("tokens.bin");
        var bytes = new byte[3 * 4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(0), 70_000);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), 2);
        File.WriteAllBytes(path, bytes);
        var sequences = SequenceReader.Read(new DataOptions { Path = path, SeqLen = 8, TokenFileDType = TokenFileDType.UInt32 }, null, 100_000).ToList();
        Assert.Equal([[70_000, 1, 2]], sequences);

        File.WriteAllBytes(path, new byte[7]);
        Assert.Contains("not a whole number", Assert.Throws<InvalidInputException>(() => Read(path, 8)).Message);
    }

    [Fact]
    public void TextDocumentsAreSeparatedByBlankLinesAndPackedAfterTokenizing()
    {
        var path = dir.File("docs.txt");
        File.WriteAllText(path, "first doc\nsecond line\r\n\r\n\n   \nsecond doc\n\nthird\n");
        var sequences = Read(path, seqLen: 5, tokenizer: CharTokenizer());
        // Each document is encoded on its own (so it starts with BOS); the stream is cut into windows of 5.
        int[] stream = [.. Doc("first doc\nsecond line"), .. Doc("second doc"), .. Doc("third")];
        Assert.Equal(stream.Chunk(5).ToList(), sequences);
    }

    [Fact]
    public void InvalidUtf8InTextBecomesTheReplacementCharacter()
    {
        var path = dir.File("bad.txt");
        File.WriteAllBytes(path, [(byte)'a', 0xFF, (byte)'b']);
        Assert.Equal([Doc("a\uFFFDb")], Read(path, seqLen: 8, tokenizer: CharTokenizer()));
    }

    [Fact]
    public void JsonLinesTakeTheConfiguredTextFieldOrInputIds()
    {
        var path = dir.File("data.jsonl");
        File.WriteAllText(path, "{\"body\": \"hi\"}\n\n{\"input_ids\": [7, 8]}\n");
        var sequences = SequenceReader.Read(new DataOptions { Path = path, SeqLen = 8, TextField = "body" }, CharTokenizer(), 100_000).ToList();
        Assert.Equal([[7, 8], Doc("hi")], sequences); // the packed text's tail comes out at the end

        var error = Assert.Throws<InvalidInputException>(() => Read(path, 8, CharTokenizer()));
        Assert.Contains("data.jsonl:1", error.Message);
        Assert.Contains("--text-field", error.Message);
    }

    [Fact]
    public void FilesStreamSoTheFirstSequenceArrivesBeforeABadLineIsRead()
    {
        var path = dir.File("big.jsonl");
        using (var writer = new StreamWriter(path))
        {
            writer.WriteLine("{\"input_ids\": [1, 2, 3]}");
            writer.WriteLine("this line is broken");
        }
        var first = SequenceReader.Read(new DataOptions { Path = path, SeqLen = 8 }, null, 1000).First();
        Assert.Equal([1, 2, 3], first);
        Assert.Throws<InvalidInputException>(() => Read(path, 8));
    }

    [Fact]
    public void DirectoriesAndGlobsExpandInPathOrder()
    {
        var sub = dir.Sub("data");
        File.WriteAllText(Path.Combine(sub, "b.json"), "[[2]]");
        File.WriteAllText(Path.Combine(sub, "a.json"), "[[1]]");
        File.WriteAllText(Path.Combine(sub, "notes.md"), "ignored");
        Directory.CreateDirectory(Path.Combine(sub, "z"));
        File.WriteAllText(Path.Combine(sub, "z", "c.json"), "[[3]]");
        Assert.Equal([[1], [2], [3]], Read(sub, 8));
        Assert.Equal([[1], [2]], Read(Path.Combine(sub, "*.json"), 8));
        Assert.Throws<InvalidInputException>(() => Read(Path.Combine(sub, "*.txt"), 8));
    }

    [Fact]
    public void ShuffleIsAReproduciblePermutation()
    {
        var items = Enumerable.Range(0, 1000).ToList();
        var a = SequenceReader.Shuffle(items, seed: 1, bufferSize: 64).ToList();
        var b = SequenceReader.Shuffle(items, seed: 1, bufferSize: 64).ToList();
        var c = SequenceReader.Shuffle(items, seed: 2, bufferSize: 64).ToList();
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.NotEqual(items, a);
        Assert.Equal(items, a.Order().ToList());
    }

    [Fact]
    public void IdsOutsideTheVocabularyAreAnInputError()
    {
        var path = dir.File("ids.json");
        File.WriteAllText(path, "[[1, 2, 5000]]");
        Assert.Contains("token id 5000", Assert.Throws<InvalidInputException>(() => Read(path, 8, vocab: 100)).Message);
    }

    public void Dispose() => dir.Dispose();

    private const int Bos = 70_000;

    /// <summary>
    /// A real tokenizer.json that makes each character below 256 its own id and, like Llama's,
    /// starts every encoded text with a BOS token, so document boundaries show in the stream.
    /// </summary>
    private Func<Tokenizer> CharTokenizer()
    {
        var vocab = new Dictionary<string, int> { ["\uFFFD"] = 0xFFFD, ["<bos>"] = Bos };
        for (var c = 0; c < 256; c++) vocab[((char)c).ToString()] = c;
        var json = new
        {
            added_tokens = new[] { new { id = Bos, content = "<bos>", special = true, normalized = false, lstrip = false, rstrip = false, single_word = false } },
            post_processor = new
            {
                type = "TemplateProcessing",
                single = new object[] { new { SpecialToken = new { id = "<bos>", type_id = 0 } }, new { Sequence = new { id = "A", type_id = 0 } } },
                special_tokens = new Dictionary<string, object> { ["<bos>"] = new { id = "<bos>", ids = new[] { Bos }, tokens = new[] { "<bos>" } } },
            },
            model = new { type = "BPE", vocab, merges = Array.Empty<string>() },
        };
        var path = dir.File("char-tokenizer.json");
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(json));
        return () => TokenizerReader.Read(path);
    }

    private static int[] Doc(string text) => [Bos, .. text.Select(c => (int)c)];
}
