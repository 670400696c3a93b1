using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Mha2Mla.Tests.EndToEnd;

/// <summary>
/// The newer commands under hostile use (issue 20, rounds of inputs of our own making): each class
/// of input ends in exit 0 with a finite result or exit 2 with one line naming what is wrong and
/// where — never a crash, a hang, or non-finite weights written with exit 0.
/// </summary>
public class HostileInputTests : IClassFixture<HostileInputTests.Models>
{
    /// <summary>A tiny GQA checkpoint, its MLA conversion at an odd latent width, and token data.</summary>
    public sealed class Models : IDisposable
    {
        public TempDir Dir { get; } = new();
        public string Model { get; }
        public string OddMla { get; }
        public string Ids { get; }

        public Models()
        {
            Model = Reference.MakeCheckpoint(Dir.Sub("model"), TinyConfigs.Llama(4, 2), "f32");
            Ids = Dir.File("ids.json");
            Reference.Run("ids", Ids, "--count", "2", "--length", "16", "--vocab", "97", "--seed", "5");
            OddMla = Dir.File("odd-mla");
            var convert = Support.Cli.Run("convert", Model, "-o", OddMla, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "7", "--steps", "0");
            Assert.True(convert.ExitCode == 0, convert.ToString());
        }

        public void Dispose() => Dir.Dispose();
    }

    private readonly Models models;
    private readonly TempDir dir = new();

    public HostileInputTests(Models models) => this.models = models;

    private static void Bad(ProcessResult result, string fragment) => Support.Cli.AssertBadInput(result, fragment);

    private static double Perplexity(ProcessResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.Stdout).RootElement.GetProperty("perplexity").GetDouble();
    }

    private string CopyOf(string model)
    {
        var copy = dir.Sub($"copy-{Guid.NewGuid():N}");
        foreach (var file in Directory.GetFiles(model)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        return copy;
    }

    private static void MakeFifo(string path)
    {
        using var mkfifo = Process.Start("mkfifo", path)!;
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }

    private static void EditJson(string path, Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    private static void EditConfig(string model, Action<JsonObject> edit)
    {
        var path = Path.Combine(model, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(config);
        File.WriteAllText(path, config.ToJsonString());
    }

    // ---- class 4: the int4 cache on any latent width ------------------------------------------

    [Fact]
    public void TheInt4CacheTakesAnOddLatentAndEveryGroupSize()
    {
        var exact = Perplexity(Support.Cli.Run("eval", models.OddMla, "--data", models.Ids, "--json"));
        foreach (var group in new[] { "1", "3", "32" })
        {
            var quantized = Perplexity(Support.Cli.Run("eval", models.OddMla, "--data", models.Ids, "--kv-cache-dtype", "int4", "--kv-group-size", group, "--json"));
            Assert.True(double.IsFinite(quantized) && Math.Abs(quantized / exact - 1) < 0.25, $"group {group}: {quantized} vs {exact}");
            // One element a group: its scale is |x|/7, so x comes back exactly (to the last bit of the division).
            if (group == "1") Assert.Equal(exact, quantized, 1e-4 * exact);
        }
        var generate = Support.Cli.Run("generate", models.OddMla, "--prompts", models.Ids, "--max-new-tokens", "3", "--kv-cache-dtype", "int4", "--kv-group-size", "1", "--json");
        Assert.True(generate.ExitCode == 0, generate.ToString());
    }

    [Fact]
    public void TheInt4CacheTakesTheUnevenWidthsOfABudget()
    {
        var budget = dir.File("budget");
        Assert.Equal(0, Support.Cli.Run("convert", models.Model, "-o", budget, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-budget", "23", "--steps", "0").ExitCode);
        var quantized = Perplexity(Support.Cli.Run("eval", budget, "--data", models.Ids, "--kv-cache-dtype", "int4", "--json"));
        Assert.True(double.IsFinite(quantized));
    }

    // ---- classes 5 and 6: every named file through one checked path ---------------------------

    [Fact]
    public void NonRegularFilesAreRefusedAtOnceWhereverTheyAreNamed()
    {
        var fifo = dir.File("pipe.txt");
        MakeFifo(fifo);
        var loop = dir.File("loop.yaml");
        File.CreateSymbolicLink(loop, dir.File("loop2.yaml"));
        File.CreateSymbolicLink(dir.File("loop2.yaml"), loop);
        var dangling = dir.File("dangling.yaml");
        File.CreateSymbolicLink(dangling, dir.File("nowhere.yaml"));
        var clock = Stopwatch.StartNew();
        Bad(Support.Cli.Run("convert", models.Model, "-o", dir.File("o1"), "--config", fifo), "FIFO");
        Bad(Support.Cli.Run("convert", models.Model, "-o", dir.File("o1"), "--config", "/dev/zero"), "device");
        Bad(Support.Cli.Run("convert", models.Model, "-o", dir.File("o1"), "--config", loop), "loops");
        Bad(Support.Cli.Run("convert", models.Model, "-o", dir.File("o1"), "--config", dangling), "dangling");
        Bad(Support.Cli.Run("eval", models.Model, "--data", fifo), "FIFO");
        Bad(Support.Cli.Run("generate", models.Model, "--prompts", fifo), "FIFO");
        var pipedModel = CopyOf(models.Model);
        File.Delete(Path.Combine(pipedModel, "model.safetensors"));
        MakeFifo(Path.Combine(pipedModel, "model.safetensors"));
        Bad(Support.Cli.Run("eval", pipedModel, "--data", models.Ids), "FIFO");
        Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), $"took {clock.Elapsed}");
        Assert.False(Directory.Exists(dir.File("o1")));
    }

    [Fact]
    public void OneStrictConfigReaderForEveryCommand()
    {
        var duplicated = CopyOf(models.Model);
        var path = Path.Combine(duplicated, "config.json");
        File.WriteAllText(path, File.ReadAllText(path).TrimEnd().TrimEnd('}') + ", \"hidden_size\": 64}");
        var trailing = CopyOf(models.Model);
        File.WriteAllText(Path.Combine(trailing, "config.json"), File.ReadAllText(Path.Combine(trailing, "config.json")).TrimEnd().TrimEnd('}') + ",}");
        foreach (var (model, fragment) in new[] { (duplicated, "hidden_size"), (trailing, "not valid JSON") })
        {
            Bad(Support.Cli.Run("inspect", model), fragment);
            Bad(Support.Cli.Run("eval", model, "--data", models.Ids), fragment);
            Bad(Support.Cli.Run("convert", model, "-o", dir.File("never"), "--rope-strategy", "high"), fragment);
            Bad(Support.Cli.Run("generate", model, "--prompts", models.Ids), fragment);
            Bad(Support.Cli.Run("train", model, "--data", models.Ids, "-o", dir.File("never")), fragment);
        }
        Assert.False(Directory.Exists(dir.File("never")));
    }

    [Fact]
    public void DamagedResumeStatesAndPromptsAreInputErrors()
    {
        var output = dir.File("run");
        Assert.Equal(0, Support.Cli.Run("train", models.Model, "--data", models.Ids, "--seq-len", "16", "--batch", "1", "--steps", "3", "--save-every", "1", "-o", output).ExitCode);
        var checkpoints = Directory.GetDirectories(Path.Combine(output, "checkpoints")).Order().ToList();
        var state = Path.Combine(checkpoints[^1], "state.json");
        var text = File.ReadAllText(state);
        File.WriteAllText(state, text[..(text.Length / 2)]);
        Bad(Support.Cli.Run("train", models.Model, "--data", models.Ids, "--seq-len", "16", "--batch", "1", "--steps", "3", "--save-every", "1", "-o", output, "--resume"), "damaged");
        File.WriteAllText(state, text);
        EditJson(state, s => s["Step"] = -5);
        Bad(Support.Cli.Run("train", models.Model, "--data", models.Ids, "--seq-len", "16", "--batch", "1", "--steps", "3", "--save-every", "1", "-o", output, "--resume"), "damaged");

        var empty = dir.File("empty.jsonl");
        File.WriteAllText(empty, "\n\n");
        Bad(Support.Cli.Run("generate", models.Model, "--prompts", empty), "holds no prompts");
        var outside = dir.File("outside.json");
        File.WriteAllText(outside, "[[1, 2, 500]]");
        Bad(Support.Cli.Run("generate", models.Model, "--prompts", outside), "outside the model's vocabulary");
    }

    // ---- class 7: nothing non-finite is written ------------------------------------------------

    [Fact]
    public void OptionsThatCannotWorkAreRefusedBeforeAnyWork()
    {
        var output = dir.File("never");
        Bad(Support.Cli.Run("convert", models.Model, "-o", output, "--svd", "activation", "--calib-data", models.Ids, "--svd-damping", "1e300"), "--svd-damping must be between 0 and 100");
        Bad(Support.Cli.Run("convert", models.Model, "-o", output, "--rope-strategy", "2-norm", "--calib-data", models.Ids, "--calib-samples", "0"), "--calib-samples must be at least 1");
        var mla = dir.File("mla");
        Assert.Equal(0, Support.Cli.Run("convert", models.Model, "-o", mla, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "4", "--steps", "0").ExitCode);
        Bad(Support.Cli.Run("export", mla, "-o", output, "--format", "deepseek-v3", "--calib-data", models.Ids, "--calib-samples", "-3"), "--calib-samples must be at least 1");
        var empty = dir.File("empty.json");
        File.WriteAllText(empty, "[]");
        var export = Support.Cli.Run("export", mla, "-o", output, "--format", "deepseek-v3", "--calib-data", empty);
        Assert.Equal(2, export.ExitCode);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void AnF16OverflowIsNotWritten()
    {
        var large = CopyOf(models.Model);
        Reference.RunPython(
            "import sys, torch; sys.path.insert(0, sys.argv[2]); import llama_reference as r\n" +
            "path = sys.argv[1] + '/model.safetensors'; t = r.load_safetensors(path); t['model.norm.weight'][0] = 1e6\n" +
            "r.save_safetensors(path, t, torch.float32)", large);
        var output = dir.File("f16");
        var result = Support.Cli.Run("convert", large, "-o", output, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "4", "--steps", "0", "--save-dtype", "f16");
        Bad(result, "65504");
        Assert.False(Directory.Exists(output));
    }

    // ---- class 8: changed data is noticed ------------------------------------------------------

    [Fact]
    public void DataEditedInPlaceIsNoticedOnResume()
    {
        var data = dir.File("ids.json");
        File.Copy(models.Ids, data);
        var output = dir.File("run");
        string[] Train(params string[] extra) => ["train", models.Model, "--data", data, "--seq-len", "16", "--batch", "1", "--steps", "3", "--save-every", "1", "-o", output, .. extra];
        Assert.Equal(0, Support.Cli.Run(Train()).ExitCode);
        var text = File.ReadAllText(data);
        File.WriteAllText(data, text.Replace("1", "2")); // same length, other tokens
        Bad(Support.Cli.Run(Train("--resume")), "the contents of");

        File.Copy(models.Ids, data, overwrite: true);
        var sweep = dir.File("sweep");
        string[] Sweep() => ["sweep", models.Model, "-o", sweep, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "4", "--eval-data", data, "--steps", "0"];
        Assert.Equal(0, Support.Cli.Run(Sweep()).ExitCode);
        File.WriteAllText(data, text.Replace("1", "2"));
        Bad(Support.Cli.Run(Sweep()), "another grid or other options");
    }

    // ---- class 9: values checked ---------------------------------------------------------------

    [Fact]
    public void ValuesThatCannotBeRightAreRefused()
    {
        var output = dir.File("never");
        var twice = CopyOf(models.OddMla);
        EditConfig(twice, c => c["mla"]!["pairs"]![0]![0] = new JsonArray(1, 1));
        Bad(Support.Cli.Run("eval", twice, "--data", models.Ids), "lists a pair twice");

        var eos = CopyOf(models.Model);
        File.WriteAllText(Path.Combine(eos, "generation_config.json"), "{\"eos_token_id\": [2, 1000]}");
        Bad(Support.Cli.Run("generate", eos, "--prompts", models.Ids), "eos_token_id 1000");
        var generation = CopyOf(models.Model);
        File.WriteAllText(Path.Combine(generation, "generation_config.json"), "{not json");
        Bad(Support.Cli.Run("generate", generation, "--prompts", models.Ids), "generation_config.json: not valid JSON");

        Bad(Support.Cli.Run("convert", models.Model, "-o", output, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-budget", "256"), "not smaller than the original cache");
        Bad(Support.Cli.Run("eval", models.Model, "--data", models.Ids, "--threads", "0"), "--threads must be at least 1");
        Bad(Support.Cli.Run("eval", models.Model, "--data", models.Ids, "--threads", "-1"), "--threads must be at least 1");
        Bad(Support.Cli.Run("sweep", models.Model, "-o", output, "--rope-strategy", "high", "--kv-rank", "4,,8"), "empty item");
        var twoDocuments = dir.File("two.yaml");
        File.WriteAllText(twoDocuments, "kv-rank: 4\n---\nkv-rank: 8\n");
        Bad(Support.Cli.Run("convert", models.Model, "-o", output, "--config", twoDocuments), "2 YAML documents");
        var help = dir.File("help.yaml");
        File.WriteAllText(help, "help: true\n");
        Bad(Support.Cli.Run("convert", models.Model, "-o", output, "--config", help), "cannot be set in a recipe");
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void WrittenConfigsSayTheWrittenDTypeAndRecipesTurnSwitchesOff()
    {
        var wide = CopyOf(models.Model);
        EditConfig(wide, c => c["torch_dtype"] = "float64");
        var output = dir.File("bf16");
        Assert.Equal(0, Support.Cli.Run("convert", wide, "-o", output, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "4", "--steps", "0", "--save-dtype", "bf16").ExitCode);
        Assert.Equal("bfloat16", JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!["torch_dtype"]!.GetValue<string>());

        var recipe = dir.File("sweep.yaml");
        File.WriteAllText(recipe, "rope-strategy: high\nrope-pairs: 2\nkv-rank: 4\nsteps: 0\nkeep-checkpoints: false\n");
        var sweep = dir.File("sweep");
        Assert.Equal(0, Support.Cli.Run("sweep", models.Model, "-o", sweep, "--config", recipe).ExitCode);
        var point = Directory.GetDirectories(sweep).Single();
        Assert.Empty(Directory.GetFiles(point, "*.safetensors"));
    }

    [Fact]
    public void ALongCalibrationWindowWarnsAsEvalDoesAndASweepChecksItsValuesBeforeItsGrid()
    {
        var output = dir.File("long");
        var convert = Support.Cli.Run("convert", models.Model, "-o", output, "--rope-strategy", "2-norm", "--rope-pairs", "2", "--kv-rank", "4", "--steps", "0",
            "--calib-data", models.Ids, "--calib-seq-len", "300");
        Assert.True(convert.ExitCode == 0, convert.ToString());
        Assert.Contains("--calib-seq-len 300 is more than the model's max_position_embeddings (256)", convert.Stderr);

        var sweep = dir.File("sweep");
        Assert.Equal(0, Support.Cli.Run("sweep", models.Model, "-o", sweep, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "4", "--steps", "0").ExitCode);
        Bad(Support.Cli.Run("sweep", models.Model, "-o", sweep, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "4,1000", "--steps", "0"), "beyond the rank");
    }

    // ---- class 10: hub ids stay in the hub cache -----------------------------------------------

    [Fact]
    public void AHubIdNeverLeadsOutOfTheCache()
    {
        var cache = dir.Sub("hub");
        var repo = Directory.CreateDirectory(Path.Combine(cache, "models--org--tiny", "refs")).Parent!.FullName;
        Directory.CreateDirectory(Path.Combine(repo, "snapshots"));
        File.WriteAllText(Path.Combine(repo, "refs", "main"), "../../../model");
        var environment = new Dictionary<string, string> { ["HF_HUB_CACHE"] = cache };
        Bad(Support.Cli.RunWith(environment, "inspect", "org/tiny"), "not a commit hash");
        Bad(Support.Cli.RunWith(environment, "inspect", "org/tiny@../../../model"), "not a revision name");
    }

    // ---- class 11: messages that name what is wrong and where ----------------------------------

    [Fact]
    public void MessagesNameTheKeyTheOptionAndThePath()
    {
        var recipe = dir.File("typo.yaml");
        File.WriteAllText(recipe, "rope-strategy: high\nkv-rnak: 8\n");
        Bad(Support.Cli.Run("convert", models.Model, "-o", dir.File("never"), "--config", recipe), "line 2: 'kv-rnak' is not an option of convert; did you mean kv-rank?");
        var file = dir.File("file.txt");
        File.WriteAllText(file, "x");
        Bad(Support.Cli.Run("convert", models.Model, "-o", Path.Combine(file, "sub"), "--rope-strategy", "high"), "is a file, so no directory can be made inside it");
        Bad(Support.Cli.Run("eval", Path.Combine(models.Model, "config.json"), "--data", models.Ids), "is a file; MODEL is the checkpoint directory");
        var tokenizer = CopyOf(models.Model);
        File.WriteAllText(Path.Combine(tokenizer, "tokenizer.json"), "{}");
        Bad(Support.Cli.Run("tokenize", tokenizer, "--text", "hello"), "has no \"model\" object");

        var output = dir.File("run");
        Assert.Equal(0, Support.Cli.Run("train", models.Model, "--data", models.Ids, "--seq-len", "16", "--batch", "1", "--steps", "3", "--save-every", "1", "--lr", "1e-4", "-o", output).ExitCode);
        Directory.Delete(Directory.GetDirectories(Path.Combine(output, "checkpoints")).Order().Last(), true);
        Bad(Support.Cli.Run("train", models.Model, "--data", models.Ids, "--seq-len", "16", "--batch", "1", "--steps", "3", "--save-every", "1", "--lr", "2e-4", "-o", output, "--resume"), "LearningRate 0.0001 then, 0.0002 now");
    }
}
