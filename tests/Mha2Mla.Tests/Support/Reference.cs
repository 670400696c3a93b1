namespace Mha2Mla.Tests.Support;

/// <summary>
/// Drives tests/reference/llama_reference.py: an independent plain-PyTorch Llama with its own
/// safetensors reader and writer. Uses Debian's python3 (with python3-torch, installed by
/// scripts/setup.sh), or MHA2MLA_PYTHON when set.
/// </summary>
public static class Reference
{
    public static string Python =>
        Environment.GetEnvironmentVariable("MHA2MLA_PYTHON") is { Length: > 0 } p ? p : "/usr/bin/python3";

    public static string Script => Path.Combine(AppContext.BaseDirectory, "reference", "llama_reference.py");

    public static string Run(params string[] args)
    {
        var result = ProcessRunner.Run(Python, [Script, .. args]);
        if (result.ExitCode != 0) throw new InvalidOperationException($"reference failed: {result}");
        return result.Stdout;
    }

    /// <summary>Runs another script beside the reference (mla_reference.py, mla_perplexity.py) and returns its stdout.</summary>
    public static string RunScript(string script, params string[] args)
    {
        var result = ProcessRunner.Run(Python, [Path.Combine(AppContext.BaseDirectory, "reference", script), .. args]);
        if (result.ExitCode != 0) throw new InvalidOperationException($"{script} failed: {result}");
        return result.Stdout;
    }

    /// <summary>Runs Python code (python -c CODE DIR REFERENCE_DIR...): argv[1] is <paramref name="argument"/>, argv[2] the reference scripts' folder.</summary>
    public static string RunPython(string code, string argument)
    {
        var result = ProcessRunner.Run(Python, ["-c", code, argument, Path.Combine(AppContext.BaseDirectory, "reference")]);
        if (result.ExitCode != 0) throw new InvalidOperationException($"python failed: {result}");
        return result.Stdout;
    }

    /// <summary>
    /// A random f32 checkpoint with calibration (3 × 24 tokens) and evaluation (3 × 20) id files,
    /// all written by the reference, for conversion tests.
    /// </summary>
    public static (string Model, string Calib, string Eval) ConversionCase(TempDir dir, object config, string name)
    {
        var model = MakeCheckpoint(dir.Sub(name), config, "f32", seed: name.Length);
        var calib = dir.File($"{name}-calib.json");
        Run("ids", calib, "--count", "3", "--length", "24", "--vocab", "97", "--seed", "11");
        var eval = dir.File($"{name}-eval.json");
        Run("ids", eval, "--count", "3", "--length", "20", "--vocab", "97", "--seed", "12");
        return (model, calib, eval);
    }

    /// <summary>A random checkpoint in Hugging Face layout, written by the reference (not by mha2mla).</summary>
    public static string MakeCheckpoint(string directory, object config, string dtype = "bf16", int shards = 1, int seed = 0)
    {
        Run("make", directory, "--config", JsonSerializer.Serialize(config), "--dtype", dtype, "--shards", shards.ToString(), "--seed", seed.ToString());
        return directory;
    }

    /// <summary>
    /// The reference's attention that computes as ours does by default with this libtorch: "sdpa"
    /// (torch's scaled_dot_product_attention, transformers' default on PyTorch 2.x) where libtorch
    /// has the fused kernels, else "eager". In fp32 the two agree within 1e-5; in bf16 they do not
    /// (SDPA keeps the probabilities in fp32 for p·v, eager narrows them first: ~0.02 logit).
    /// </summary>
    public static string AttentionLikeOurs =>
        Mha2Mla.Models.Attention.Resolve(Mha2Mla.Models.AttentionKernel.Default) == Mha2Mla.Models.AttentionKernel.Sdpa ? "sdpa" : "eager";

    /// <param name="dtype">f32, or bf16: the reference casts the weights and computes in bf16 as transformers does.</param>
    /// <param name="attention">eager (the default) or sdpa: see <see cref="AttentionLikeOurs"/>.</param>
    public static float[] Logits(string checkpoint, int[][] ids, string scratch, string dtype = "f32", string attention = "eager")
    {
        var idsFile = Path.Combine(scratch, $"ids-{Guid.NewGuid():N}.json");
        var outFile = Path.Combine(scratch, $"logits-{Guid.NewGuid():N}.f32");
        File.WriteAllText(idsFile, JsonSerializer.Serialize(ids));
        Run("logits", checkpoint, "--ids", idsFile, "--out", outFile, "--dtype", dtype, "--attention", attention);
        var bytes = File.ReadAllBytes(outFile);
        var result = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, result, 0, bytes.Length);
        return result;
    }

    public static (double Perplexity, long Tokens) Perplexity(string checkpoint, string dataFile, string dtype = "f32", string attention = "eager")
    {
        using var json = JsonDocument.Parse(Run("ppl", checkpoint, "--data", dataFile, "--dtype", dtype, "--attention", attention));
        return (json.RootElement.GetProperty("perplexity").GetDouble(), json.RootElement.GetProperty("tokens").GetInt64());
    }
}
