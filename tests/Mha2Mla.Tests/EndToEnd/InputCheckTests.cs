using System.Text.Json.Nodes;

namespace Mha2Mla.Tests.EndToEnd;

/// <summary>
/// Issue 10's "silently wrong", "hangs" and "exit codes" cases, each reproduced: inputs checked
/// against each other before work, bounded loops and regexes, one honest line and exit 2.
/// </summary>
public class InputCheckTests : IDisposable
{
    private readonly TempDir dir = new();
    private static ProcessResult Run(params string[] args) => Support.Cli.Run(args);
    private static void Bad(ProcessResult result, string fragment) => Support.Cli.AssertBadInput(result, fragment);

    private string Model(string name, Action<JsonObject>? edit = null, string dtype = "f32")
    {
        var model = Reference.MakeCheckpoint(dir.Sub(name), TinyConfigs.Llama(4, 2), dtype);
        if (edit is null) return model;
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(model, "config.json")))!.AsObject();
        edit(config);
        File.WriteAllText(Path.Combine(model, "config.json"), config.ToJsonString());
        return model;
    }

    private string Ids(string name, int count = 4, int length = 12)
    {
        var file = dir.File(name);
        Reference.Run("ids", file, "--count", count.ToString(), "--length", length.ToString(), "--vocab", "97");
        return file;
    }

    [Fact]
    public void AConfigThatDisagreesWithItsWeightsIsRefusedByEveryCommand()
    {
        var fewer = Model("fewer-layers", c => c["num_hidden_layers"] = 1);
        var data = Ids("data.json");
        foreach (var result in new[] { Run("inspect", fewer), Run("eval", fewer, "--data", data), Run("convert", fewer, "-o", dir.File("x"), "--rope-strategy", "high") })
            Bad(result, "the weights hold 2 decoder layers but config.json says num_hidden_layers = 1");
        var vocab = Model("bigger-vocab", c => c["vocab_size"] = 500);
        Bad(Run("inspect", vocab), "config.json implies [500, 64]");
    }

    [Fact]
    public void NonFiniteWeightsAndLossesStopAtOnceNamingWhat()
    {
        var model = Model("nan");
        // Poison one weight through the reference's own reader and writer.
        var script = "import sys, torch; sys.path.insert(0, sys.argv[2]); import llama_reference as r; " +
                     "p = sys.argv[1] + '/model.safetensors'; w = r.load_safetensors(p); w['model.layers.1.mlp.up_proj.weight'][3, 5] = float('nan'); r.save_safetensors(p, w, torch.float32)";
        var poisoned = ProcessRunner.Run(Reference.Python, ["-c", script, model, Path.Combine(AppContext.BaseDirectory, "reference")]);
        Assert.True(poisoned.ExitCode == 0, poisoned.ToString());
        var data = Ids("data.json");
        Bad(Run("eval", model, "--data", data), "tensor 'model.layers.1.mlp.up_proj.weight' holds NaN or infinite values");
        Bad(Run("convert", model, "-o", dir.File("nan-mla"), "--rope-strategy", "high"), "holds NaN or infinite values");
        Assert.False(Directory.Exists(dir.File("nan-mla")));

        var good = Model("good");
        Bad(Run("convert", good, "-o", dir.File("lr-nan"), "--rope-strategy", "high", "--train-data", data, "--steps", "2", "--lr", "nan"), "--lr must be positive");
        var huge = Run("train", good, "--data", data, "-o", dir.File("lr-huge"), "--steps", "3", "--lr", "1e30", "--batch", "2");
        Bad(huge, "became");
    }

    [Fact]
    public void ResumeKeepsOneMetricsLinePerStepAndChecksTheData()
    {
        var model = Model("resume");
        var data = Ids("data.json", count: 10, length: 20);
        var output = dir.File("run");
        string[] Args(string d) => ["train", model, "--data", d, "-o", output, "--steps", "8", "--save-every", "3", "--batch", "2", "--seq-len", "8", "--threads", "2"];
        var crashed = Support.Cli.RunWith(new Dictionary<string, string> { ["MHA2MLA_TEST_CRASH_DURING_CHECKPOINT"] = "6" }, Args(data));
        Assert.NotEqual(0, crashed.ExitCode);
        Bad(Run([.. Args(Ids("other.json", count: 10, length: 20)), "--resume"]), "other options: data Path");
        var resumed = Run([.. Args(data), "--resume"]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        var steps = File.ReadAllLines(Path.Combine(output, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32()).ToList();
        Assert.Equal(Enumerable.Range(1, 8), steps);
    }

    [Fact]
    public void NothingHangs()
    {
        var model = Model("hang");
        var single = dir.File("single-tokens.json");
        File.WriteAllText(single, "[[1], [2], [3]]");
        Bad(Run("train", model, "--data", single, "-o", dir.File("t"), "--steps", "2"), "no sequence has the 2 tokens");
        Bad(Run("convert", model, "-o", dir.File("c"), "--rope-strategy", "high", "--train-data", single, "--steps", "2"), "no sequence has the 2 tokens");

        var threads = Run("eval", model, "--data", Ids("few.json"), "--threads", "100000");
        Assert.True(threads.ExitCode == 0, threads.ToString());
        Assert.Contains("more than 4 per core", threads.Stderr);

        var tokenizer = JsonNode.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "models", "demo", "tokenizer.json")))!.AsObject();
        tokenizer["pre_tokenizer"] = new JsonObject
        {
            ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = "(a+)+$" }, ["behavior"] = "Isolated", ["invert"] = false,
        };
        var hostile = dir.File("hostile-tokenizer.json");
        File.WriteAllText(hostile, tokenizer.ToJsonString());
        var started = DateTime.UtcNow;
        Bad(Run("tokenize", hostile, "--text", new string('a', 40) + "!"), "catastrophic backtracking");
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(60));
    }

    [Fact]
    public void BadValuesAreOneLineErrorsWithExitTwo()
    {
        var model = Model("values");
        Bad(Run("inspect", model, "--context", "9223372036854775807"), "more than 2^63 bytes");
        var bin = dir.File("big-ids.bin");
        File.WriteAllBytes(bin, [0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0]);
        Bad(Run("eval", model, "--data", bin, "--data-dtype", "uint32"), "token id 4294967295 is beyond any vocabulary");
        var strings = dir.File("strings.json");
        File.WriteAllText(strings, "[\"a\", null]");
        Bad(Run("tokenize", "demo", "--strings", strings), "entry 1 is null");
        var recipe = dir.File("complex.yaml");
        File.WriteAllText(recipe, "? [a, b]\n: 1\n");
        Bad(Run("convert", model, "-o", dir.File("y"), "--config", recipe), "a key must be an option name");
        Bad(Run("frobnicate"), "unknown command 'frobnicate'");
        var choice = Run("convert", model, "-o", dir.File("z"), "--svd", "sideways");
        Bad(choice, "sideways");
        var typed = Run("inspect", model, "--context", "many");
        Bad(typed, "an integer");
        Assert.DoesNotContain("System.", typed.Stderr);
        var empty = dir.File("empty.json");
        File.WriteAllText(empty, "[]");
        Bad(Run("convert", model, "-o", dir.File("e"), "--calib-data", empty), "--calib-data holds no sequences");
        var text = dir.File("text.txt");
        File.WriteAllText(text, "Some words to learn from.\n");
        Bad(Run("train", "--init", Path.Combine(model, "config.json"), "--data", text, "-o", dir.File("i"), "--steps", "1"), "--tokenizer");
        var quick = Run("convert", model, "-o", dir.File("s"), "--rope-strategy", "high", "--eval-data", Ids("e.json"), "--seq-len", "1");
        Bad(quick, "--seq-len must be at least 2");
        Assert.DoesNotContain("converted", quick.Stderr); // refused before any layer was converted
    }

    [Fact]
    public void RecipesAcceptConfigEqualsAndYieldToShortFlags()
    {
        var model = Model("recipe");
        var recipe = dir.File("recipe.yaml");
        File.WriteAllText(recipe, $"rope-strategy: high\nrope-pairs: 2\nkv-rank: 4\noutput: {dir.File("from-recipe")}\n");
        var result = Run("convert", model, $"--config={recipe}", "-o", dir.File("from-flag"));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(Directory.Exists(dir.File("from-flag")));
        Assert.False(Directory.Exists(dir.File("from-recipe")));
    }

    [Fact]
    public void ASymlinkedTokenFileIsMeasuredThroughTheLink()
    {
        var model = Model("linked-data");
        var bin = dir.File("ids.bin");
        File.WriteAllBytes(bin, Enumerable.Range(0, 40).SelectMany(i => BitConverter.GetBytes((ushort)(i % 97))).ToArray());
        var link = dir.File("ids-link.bin");
        File.CreateSymbolicLink(link, bin);
        var direct = JsonDocument.Parse(Run("eval", model, "--data", bin, "--json").Stdout).RootElement.GetProperty("tokens").GetInt64();
        var linked = Run("eval", model, "--data", link, "--json");
        Assert.True(linked.ExitCode == 0, linked.ToString());
        Assert.Equal(direct, JsonDocument.Parse(linked.Stdout).RootElement.GetProperty("tokens").GetInt64());
    }

    [Fact]
    public void F16IsRefusedWhereItCannotRun()
    {
        var model = Model("f16");
        var data = Ids("f16-ids.json", count: 2);
        Bad(Run("eval", model, "--data", data, "--dtype", "f16"), "--dtype f16: on CPU");
        Bad(Run("train", model, "--data", data, "-o", dir.File("t"), "--steps", "1", "--dtype", "f16"), "--dtype f16");
        Bad(Run("convert", model, "-o", dir.File("c"), "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "4",
            "--dtype", "f16"), "--dtype f16: on CPU");
        Assert.False(Directory.Exists(dir.File("c")));
    }

    public void Dispose() => dir.Dispose();
}
