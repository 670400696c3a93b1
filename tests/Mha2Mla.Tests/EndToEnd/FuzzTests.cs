using System.Text;
using System.Text.Json.Nodes;

namespace Mha2Mla.Tests.EndToEnd;

/// <summary>
/// Seeded, bounded fuzzing: random mutations of safetensors headers, config.json, tokenizer.json,
/// YAML recipes and data files, fed to inspect / eval / tokenize / convert; random options and
/// prompt files for generate, export and sweep; and non-regular files (a FIFO, /dev/zero, a
/// directory, a dangling or looping link) under every option that names a file. Every outcome must be
/// exit 0 or 2 — never 1 (our bug), a native crash (the test host would die) or a hang. The CLI
/// runs in this process, so hundreds of cases take seconds; MHA2MLA_FUZZ_CASES raises the count
/// (scripts/fuzz.sh) and MHA2MLA_FUZZ_SEED changes the seed.
/// </summary>
[Collection(SerialCollection.Name)]
public class FuzzTests : IDisposable
{
    private readonly TempDir dir = new();
    private readonly Random random;
    private readonly int cases;

    public FuzzTests()
    {
        random = new Random(int.TryParse(Environment.GetEnvironmentVariable("MHA2MLA_FUZZ_SEED"), out var seed) ? seed : 20261201);
        cases = int.TryParse(Environment.GetEnvironmentVariable("MHA2MLA_FUZZ_CASES"), out var n) ? n : 250;
    }

    [Fact]
    public void MutatedInputsExitWithZeroOrTwoNeverCrashingOrHanging()
    {
        var model = Reference.MakeCheckpoint(dir.Sub("model"), TinyConfigs.Llama(4, 2), "bf16");
        var data = dir.File("ids.json");
        Reference.Run("ids", data, "--count", "2", "--length", "10", "--vocab", "97");
        var tokenizer = File.ReadAllText(Path.Combine(RepoPaths.Root, "models", "demo", "tokenizer.json"));
        var mla = dir.File("mla"); // odd latent (7), so the int4 cache and the export meet an odd width
        var converted = InProcess.Run(["convert", model, "-o", mla, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "7", "--steps", "0", "--latent-norm",
            "--calib-data", data, "--calib-seq-len", "10", "-q"], TimeSpan.FromSeconds(60));
        Assert.True(converted.ExitCode == 0, converted.Stderr);
        var outcomes = new Dictionary<int, int>();
        for (var i = 0; i < cases; i++)
        {
            var work = dir.Sub($"case-{i}");
            var (what, args) = (i % 9) switch
            {
                0 => ("safetensors header", HeaderCase(model, work, data)),
                1 => ("config.json", ConfigCase(model, work, data)),
                2 => ("tokenizer.json", TokenizerCase(tokenizer, work)),
                3 => ("YAML recipe", RecipeCase(model, work)),
                4 => ("data file", DataCase(model, work)),
                5 => ("generate", GenerateCase(model, mla, work)),
                6 => ("export", ExportCase(mla, work)),
                7 => ("sweep", SweepCase(model, work, data)),
                _ => ("non-regular file", NonRegularCase(model, mla, work, data)),
            };
            var (code, stderr) = InProcess.Run(args, TimeSpan.FromSeconds(30));
            if (code is not (0 or 2))
            {
                var (_, trace) = InProcess.Run([.. args, "--verbose"], TimeSpan.FromSeconds(30)); // the same input, with the stack trace
                Assert.Fail($"case {i} ({what}): exit {code} for mha2mla {string.Join(' ', args)}\n{trace}");
            }
            outcomes[code] = outcomes.GetValueOrDefault(code) + 1;
            Directory.Delete(work, recursive: true);
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"fuzz: {cases} cases, exit 0: {outcomes.GetValueOrDefault(0)}, exit 2: {outcomes.GetValueOrDefault(2)}");
        Assert.True(outcomes.GetValueOrDefault(2) > 0, "no mutation was ever refused: the fuzzer is not mutating");
    }

    private string[] HeaderCase(string model, string work, string data)
    {
        var copy = CopyModel(model, work);
        var file = Path.Combine(copy, "model.safetensors");
        var bytes = File.ReadAllBytes(file);
        var headerLength = (int)BitConverter.ToUInt64(bytes, 0);
        switch (random.Next(4))
        {
            case 0: // flip bytes inside the header
                for (var k = 0; k < 1 + random.Next(4); k++) bytes[8 + random.Next(headerLength)] = (byte)random.Next(256);
                break;
            case 1: // truncate anywhere
                bytes = bytes[..random.Next(bytes.Length)];
                break;
            case 2: // a wrong length prefix
                BitConverter.GetBytes(random.Next(3) switch { 0 => 0UL, 1 => (ulong)random.NextInt64(), _ => (ulong)(headerLength + random.Next(-16, 16)) }).CopyTo(bytes, 0);
                break;
            default: // a structurally mutated header, re-framed correctly
                var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, headerLength))!;
                Mutate(header);
                var text = Encoding.UTF8.GetBytes(header.ToJsonString());
                bytes = [.. BitConverter.GetBytes((ulong)text.Length), .. text, .. bytes[(8 + headerLength)..]];
                break;
        }
        File.WriteAllBytes(file, bytes);
        return random.Next(2) == 0 ? ["inspect", copy, "--json"] : ["eval", copy, "--data", data, "--json"];
    }

    private string[] ConfigCase(string model, string work, string data)
    {
        var copy = CopyModel(model, work);
        var path = Path.Combine(copy, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!;
        for (var k = 0; k < 1 + random.Next(3); k++) Mutate(config);
        File.WriteAllText(path, random.Next(10) == 0 ? config.ToJsonString()[..random.Next(config.ToJsonString().Length)] : config.ToJsonString());
        return random.Next(2) == 0 ? ["inspect", copy] : ["eval", copy, "--data", data];
    }

    private string[] TokenizerCase(string tokenizer, string work)
    {
        var node = JsonNode.Parse(tokenizer)!;
        for (var k = 0; k < 1 + random.Next(3); k++) Mutate(node);
        var path = Path.Combine(work, "tokenizer.json");
        File.WriteAllText(path, node.ToJsonString());
        return ["tokenize", path, "--text", RandomText(40)];
    }

    private string[] RecipeCase(string model, string work)
    {
        string[] keys = ["rope-strategy", "rope-pairs", "kv-rank", "svd", "steps", "lr", "batch", "seq-len", "calib-samples", "output", "overwrite", "bogus", ""];
        string[] values = ["high", "2-norm", "uniform", "joint", "split", "2", "0", "-1", "3", "1e-3", "nan", "true", "false", "[1, 2]", "{a: 1}", "\"\"", "~", "99999999999", "x"];
        var lines = Enumerable.Range(0, 1 + random.Next(5)).Select(_ => random.Next(8) switch
        {
            0 => RandomText(12),
            1 => $"- {values[random.Next(values.Length)]}",
            _ => $"{keys[random.Next(keys.Length)]}: {values[random.Next(values.Length)]}",
        });
        var recipe = Path.Combine(work, "recipe.yaml");
        File.WriteAllText(recipe, string.Join('\n', lines) + "\n");
        return ["convert", model, "-o", Path.Combine(work, "out"), "--config", recipe, "--rope-pairs", "2", "--kv-rank", "4", "--steps", "0"];
    }

    private string[] DataCase(string model, string work)
    {
        var extension = new[] { ".txt", ".json", ".jsonl", ".bin" }[random.Next(4)];
        var path = Path.Combine(work, "data" + extension);
        switch (extension)
        {
            case ".bin":
                File.WriteAllBytes(path, RandomBytes(random.Next(64)));
                break;
            case ".json":
                var ids = new JsonArray(Enumerable.Range(0, random.Next(4)).Select(_ => (JsonNode)new JsonArray(Enumerable.Range(0, random.Next(8)).Select(_ => RandomValue()).ToArray())).ToArray());
                File.WriteAllText(path, random.Next(6) == 0 ? RandomText(30) : ids.ToJsonString());
                break;
            case ".jsonl":
                File.WriteAllLines(path, Enumerable.Range(0, 1 + random.Next(4)).Select(_ => random.Next(3) switch
                {
                    0 => new JsonObject { ["text"] = RandomValue() }.ToJsonString(),
                    1 => new JsonObject { ["input_ids"] = new JsonArray(RandomValue(), RandomValue()) }.ToJsonString(),
                    _ => RandomText(20),
                }));
                break;
            default:
                File.WriteAllBytes(path, random.Next(2) == 0 ? RandomBytes(random.Next(100)) : Encoding.UTF8.GetBytes(RandomText(100)));
                break;
        }
        return ["eval", model, "--data", path, "--seq-len", (2 + random.Next(30)).ToString()];
    }

    private T Pick<T>(params T[] choices) => choices[random.Next(choices.Length)];

    private string[] GenerateCase(string model, string mla, string work)
    {
        var prompts = Path.Combine(work, random.Next(2) == 0 ? "prompts.jsonl" : "prompts.json");
        File.WriteAllText(prompts, prompts.EndsWith(".json", StringComparison.Ordinal)
            ? new JsonArray(Enumerable.Range(0, random.Next(3)).Select(_ => (JsonNode)new JsonArray(Enumerable.Range(0, random.Next(5)).Select(_ => RandomValue()).ToArray())).ToArray()).ToJsonString()
            : string.Join('\n', Enumerable.Range(0, random.Next(3)).Select(_ => random.Next(3) == 0 ? RandomText(10) : new JsonObject { ["prompt"] = RandomValue() }.ToJsonString())));
        return ["generate", Pick(model, mla), "--prompts", prompts, "--max-new-tokens", Pick("-1", "0", "1", "3"), "--temperature", Pick("0", "-1", "nan", "1e30", "0.7"),
            "--top-k", Pick("-5", "0", "3"), "--top-p", Pick("0", "0.9", "1.5", "nan"), "--batch", Pick("0", "1", "3"),
            "--kv-cache-dtype", Pick("f32", "bf16", "int8", "int4", "int3"), "--kv-group-size", Pick("0", "1", "3", "32"), "--json"];
    }

    private string[] ExportCase(string mla, string work)
    {
        string[] args = ["export", mla, "-o", Path.Combine(work, "out"), "--format", Pick("deepseek-v3", "bogus"), "--save-dtype", Pick("bf16", "f16", "f32", "f8")];
        if (random.Next(3) == 0) return args;
        var calib = Path.Combine(work, "calib.json");
        File.WriteAllText(calib, random.Next(3) == 0 ? RandomText(20)
            : new JsonArray(Enumerable.Range(0, random.Next(3)).Select(_ => (JsonNode)new JsonArray(Enumerable.Range(0, random.Next(12)).Select(_ => JsonValue.Create(random.Next(97))).ToArray())).ToArray()).ToJsonString());
        return [.. args, "--calib-data", calib, "--calib-samples", Pick("-1", "0", "1", "3"), "--calib-seq-len", Pick("0", "1", "2", "8", "100000")];
    }

    private string[] SweepCase(string model, string work, string data) =>
    [
        "sweep", model, "-o", Path.Combine(work, "out"), "--steps", "0", "--eval-data", data, "--seq-len", "8",
        "--rope-strategy", Pick("high", "low,high", "high,", "bogus", "2-norm"), "--rope-pairs", Pick("2", "1,2", "0", "9", ",", "2,2"),
        random.Next(3) == 0 ? "--kv-budget" : "--kv-rank", Pick("4", "4,,8", "3,5", "0", "-2", "1000", "a", "25%", "100%", "64"),
        "--svd", Pick("joint", "split,joint", "activation", "x"), "--svd-damping", Pick("0.001", "-1", "1e300", "nan"),
    ];

    private string[] NonRegularCase(string model, string mla, string work, string data)
    {
        var path = Path.Combine(work, "thing" + Pick(".json", ".txt", ".yaml", ".jsonl"));
        switch (random.Next(5))
        {
            case 0:
                using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", path)!) mkfifo.WaitForExit();
                break;
            case 1: path = "/dev/zero"; break;
            case 2: Directory.CreateDirectory(path); break;
            case 3: File.CreateSymbolicLink(path, Path.Combine(work, "nowhere")); break;
            default:
                File.CreateSymbolicLink(path, path + ".2");
                File.CreateSymbolicLink(path + ".2", path);
                break;
        }
        var output = Path.Combine(work, "out");
        return random.Next(7) switch
        {
            0 => ["eval", model, "--data", path],
            1 => ["convert", model, "-o", output, "--config", path],
            2 => ["generate", model, "--prompts", path],
            3 => ["tokenize", path, "--text", "a"],
            4 => ["train", "--init", path, "--data", data, "-o", output, "--steps", "1"],
            5 => ["export", mla, "-o", output, "--format", "deepseek-v3", "--calib-data", path],
            _ => ["sweep", model, "-o", output, "--rope-strategy", "high", "--kv-rank", "4", "--steps", "0", "--eval-data", path],
        };
    }

    // ---- mutation -----------------------------------------------------------------------

    /// <summary>One random edit somewhere in the tree: a key removed, a value replaced, an array grown or emptied.</summary>
    private void Mutate(JsonNode root)
    {
        var containers = new List<JsonNode>();
        void Walk(JsonNode? node, int depth)
        {
            if (node is JsonObject or JsonArray) containers.Add(node);
            if (depth > 6) return;
            if (node is JsonObject o) foreach (var (_, child) in o.ToList()) Walk(child, depth + 1);
            if (node is JsonArray a) foreach (var child in a.ToList().Take(20)) Walk(child, depth + 1);
        }
        Walk(root, 0);
        var target = containers[random.Next(containers.Count)];
        if (target is JsonObject obj && obj.Count > 0)
        {
            var key = obj.ElementAt(random.Next(obj.Count)).Key;
            if (random.Next(3) == 0) obj.Remove(key);
            else obj[key] = RandomValue();
        }
        else if (target is JsonArray array)
        {
            if (array.Count > 0 && random.Next(2) == 0) array[random.Next(array.Count)] = RandomValue();
            else if (random.Next(2) == 0) array.Clear();
            else array.Add(RandomValue());
        }
    }

    private JsonNode? RandomValue() => random.Next(14) switch
    {
        0 => null,
        1 => JsonValue.Create(-1),
        2 => JsonValue.Create(0),
        3 => JsonValue.Create(random.Next(1, 100)),
        4 => JsonValue.Create(1e308),
        5 => JsonValue.Create(9_999_999_999L),
        6 => JsonValue.Create(-0.5),
        7 => JsonValue.Create(RandomText(6)),
        8 => JsonValue.Create("NaN"),
        9 => new JsonArray(),
        10 => new JsonObject(),
        11 => JsonValue.Create(true),
        12 => new JsonArray(JsonValue.Create(random.Next(5)), JsonValue.Create(random.Next(5))),
        _ => JsonValue.Create("(a+)+$"),
    };

    private string RandomText(int maxLength)
    {
        string[] alphabet = ["a", "b", "c", " ", "x", "\n", "\t", "{", "}", "[", "]", ":", ",", "\"", "'", "\\", "-", ".", "0", "7", "é", "ß", "漢", "😀", "\u0301", "\u200d"];
        var length = random.Next(maxLength + 1);
        var text = new StringBuilder();
        while (text.Length < length) text.Append(alphabet[random.Next(alphabet.Length)]);
        return text.ToString();
    }

    private byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static string CopyModel(string model, string work)
    {
        var copy = Directory.CreateDirectory(Path.Combine(work, "model")).FullName;
        foreach (var file in Directory.GetFiles(model)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        return copy;
    }

    public void Dispose() => dir.Dispose();
}
