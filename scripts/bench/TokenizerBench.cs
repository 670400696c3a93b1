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

// Three passes; the figures are the median pass with the slowest and fastest beside it.
var seconds = new List<double>();
long tokens = 0;
for (var pass = 0; pass < 3; pass++)
{
    var clock = Stopwatch.StartNew();
    tokens = 0;
    foreach (var d in documents) tokens += tokenizer.EncodeIds(d).Length;
    seconds.Add(clock.Elapsed.TotalSeconds);
}
seconds.Sort();
double Rate(double s) => bytes / 1e6 / s;
Console.WriteLine($"{{\"implementation\": \"mha2mla\", \"tokens\": {tokens}, \"bytes\": {bytes}, \"seconds\": {seconds[1]:F4}, " +
                  $"\"mb_per_second\": {Rate(seconds[1]):F3}, \"mb_per_second_min\": {Rate(seconds[2]):F3}, \"mb_per_second_max\": {Rate(seconds[0]):F3}}}");
