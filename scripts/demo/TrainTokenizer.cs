// Trains the demo model's byte-level BPE tokenizer:
//   dotnet run scripts/demo/TrainTokenizer.cs -- TRAIN.txt VOCAB_SIZE OUT/tokenizer.json
// Documents are the text's blank-line-separated paragraphs.
#:project ../../src/Mha2Mla/Mha2Mla.csproj
#:property PublishAot=false
using System.Text.Json;
using Mha2Mla.Tokenization;

var documents = File.ReadAllText(args[0]).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
var json = BpeTrainer.Train(documents, int.Parse(args[1]));
File.WriteAllText(args[2], json.ToJsonString(new JsonSerializerOptions { WriteIndented = false }));
Console.Error.WriteLine($"{args[2]}: {json["model"]!["vocab"]!.AsObject().Count} tokens from {documents.Length} documents");
