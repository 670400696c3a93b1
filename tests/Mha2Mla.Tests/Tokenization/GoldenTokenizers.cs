using System.Text.Json.Nodes;
using Mha2Mla.Tokenization;

namespace Mha2Mla.Tests.Tokenization;

/// <summary>
/// The golden data made by scripts/js/make-tokenizer-goldens.mjs with Hugging Face's own JS
/// tokenizer: the input strings, and per tokenizer the real file (plus overrides) and the ids.
/// </summary>
public static class GoldenTokenizers
{
    public static readonly string[] Names = ["llama2", "llama3", "qwen3", "gpt4o", "llama2-metaspace", "gpt2-bytelevel", "demo"];

    private static readonly Lazy<string[]> strings = new(() =>
        JsonSerializer.Deserialize<string[]>(File.ReadAllText(Path.Combine(RepoPaths.TokenizerData, "strings.json")))!);

    private static readonly Dictionary<string, Lazy<(Tokenizer, int[][])>> loaded =
        Names.ToDictionary(n => n, n => new Lazy<(Tokenizer, int[][])>(() => Load(n)));

    public static string[] Strings => strings.Value;

    public static (Tokenizer Tokenizer, int[][] Ids) Get(string name) => loaded[name].Value;

    /// <summary>The tokenizer.json the golden ids were made from, written to a temporary file.</summary>
    public static string MaterializeFile(string name, string directory)
    {
        var golden = JsonNode.Parse(File.ReadAllText(Path.Combine(RepoPaths.TokenizerData, $"{name}.golden.json")))!;
        var file = golden["file"]!.GetValue<string>();
        // "@scope/package/models/tokenizer.json" is installed by npm; anything else lives in this repository.
        var source = file.StartsWith('@')
            ? RepoPaths.NpmFile(file[..file.IndexOf("/models/", StringComparison.Ordinal)], "models/tokenizer.json")
            : Path.Combine(RepoPaths.Root, file);
        var target = Path.Combine(directory, $"{name}.tokenizer.json");
        if (golden["overrides"] is JsonObject overrides)
        {
            var json = JsonNode.Parse(File.ReadAllText(source))!.AsObject();
            foreach (var (key, value) in overrides) json[key] = value?.DeepClone();
            File.WriteAllText(target, json.ToJsonString());
        }
        else File.Copy(source, target, overwrite: true);
        return target;
    }

    private static (Tokenizer, int[][]) Load(string name)
    {
        var directory = Directory.CreateTempSubdirectory("mha2mla-tok-").FullName;
        var tokenizer = TokenizerReader.Read(MaterializeFile(name, directory));
        var golden = JsonNode.Parse(File.ReadAllText(Path.Combine(RepoPaths.TokenizerData, $"{name}.golden.json")))!;
        var ids = golden["ids"]!.AsArray().Select(a => a!.AsArray().Select(x => x!.GetValue<int>()).ToArray()).ToArray();
        Directory.Delete(directory, recursive: true);
        return (tokenizer, ids);
    }
}
