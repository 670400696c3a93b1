// Encode throughput of mha2mla's tokenizer, one thread: dotnet run scripts/bench/TokenizerBench.cs -- TOKENIZER.json TEXT.txt
// Documents are the text's blank-line-separated paragraphs, exactly as bench-tokenizer.mjs splits them.
#:project ../../src/Mha2Mla/Mha2Mla.csproj
#:property PublishAot=false
using System.Diagnostics;
using System.Text;
using Mha2Mla.Tokenization;

var tokenizer = TokenizerReader.Read(args[0]);
var documents = File.ReadAllText(args[1]).Split("\n\n");
var bytes = Encoding.UTF8.GetByteCount(string.Concat(documents));

var best = double.MaxValue;
long tokens = 0;
for (var pass = 0; pass < 3; pass++)
{
    var clock = Stopwatch.StartNew();
    tokens = 0;
    foreach (var d in documents) tokens += tokenizer.EncodeIds(d).Length;
    best = Math.Min(best, clock.Elapsed.TotalSeconds);
}
Console.WriteLine($"{{\"implementation\": \"mha2mla\", \"tokens\": {tokens}, \"bytes\": {bytes}, \"seconds\": {best:F4}, \"mb_per_second\": {bytes / 1e6 / best:F3}}}");
