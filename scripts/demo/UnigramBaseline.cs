// The demo's baseline: perplexity of an add-one-smoothed unigram model (training-split token
// frequencies) on the held-out split, scored on the positions `mha2mla eval --seq-len 256` scores.
//   dotnet run scripts/demo/UnigramBaseline.cs -- models/demo TRAIN.txt HELDOUT.txt
#:project ../../src/Mha2Mla/Mha2Mla.csproj
#:property PublishAot=false
using Mha2Mla.Checkpoints;
using Mha2Mla.Data;
using Mha2Mla.Evaluation;

using var checkpoint = Checkpoint.Open(args[0]);
IEnumerable<int[]> Read(string path) =>
    SequenceReader.Read(new DataOptions { Path = path, SeqLen = 256 }, checkpoint.LoadTokenizer, checkpoint.Config.VocabSize);
var perplexity = UnigramBaseline.Perplexity(Read(args[1]), Read(args[2]), checkpoint.Config.VocabSize);
Console.WriteLine($"{{\"unigram_perplexity\": {perplexity:F2}}}");
