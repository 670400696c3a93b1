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

// Three passes, each reported (scripts/bench/stats.py makes the figure: the median with the extremes beside it).
var rates = new List<double>();
long tokens = 0;
for (var pass = 0; pass < 3; pass++)
{
    var clock = Stopwatch.StartNew();
    tokens = 0;
    foreach (var d in documents) tokens += tokenizer.EncodeIds(d).Length;
    rates.Add(bytes / 1e6 / clock.Elapsed.TotalSeconds);
}
Console.WriteLine($"{{\"implementation\": \"mha2mla\", \"tokens\": {tokens}, \"bytes\": {bytes}, " +
                  $"\"mb_per_second\": [{string.Join(", ", rates.Select(r => r.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)))}]}}");
