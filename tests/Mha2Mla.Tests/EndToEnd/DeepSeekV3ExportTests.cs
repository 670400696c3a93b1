namespace Mha2Mla.Tests.EndToEnd;

/// <summary>
/// `mha2mla export --format deepseek-v3` against an independent plain-PyTorch DeepSeek-V3
/// (tests/reference/deepseek_reference.py, written from transformers' modeling_deepseek_v3):
/// the export computes what the MLA source computes, for one and several KV heads and every
/// strategy that can export; what DeepSeek cannot hold is refused.
/// </summary>
public class DeepSeekV3ExportTests : IDisposable
{
    private readonly TempDir dir = new();

    private (string Model, string Calib, string Eval) Setup(Dictionary<string, object?> config, string name) => Reference.ConversionCase(dir, config, name);

    private static double Relative(double a, double b) => Math.Abs(a - b) / Math.Abs(b);

    private static double Eval(string model, string eval) =>
        JsonDocument.Parse(Support.Cli.Run("eval", model, "--data", eval, "--json").Stdout).RootElement.GetProperty("perplexity").GetDouble();

    private static double DeepSeek(string export, string eval) =>
        JsonDocument.Parse(Reference.RunScript("deepseek_reference.py", "perplexity", export, "--data", eval)).RootElement.GetProperty("perplexity").GetDouble();

    [Theory]
    [InlineData(4, 1, "high", "default", null)]    // one KV head, the fastest pairs: exactly a ladder
    [InlineData(4, 1, "low", "longrope", null)]
    [InlineData(4, 2, "high", "longrope", null)]   // two slots repeat the frequencies: never a ladder
    [InlineData(4, 2, "uniform", "longrope", null)]
    [InlineData(4, 2, "2-norm", "longrope", null)]
    [InlineData(4, 2, "2-norm", "longrope", "linear")] // scaled source frequencies fold into the factors
    [InlineData(4, 1, "low", "longrope", "llama3")]
    public void TheExportComputesWhatTheSourceComputes(int heads, int kvHeads, string strategy, string ropeType, string? sourceRope)
    {
        var config = TinyConfigs.Llama(heads, kvHeads);
        if (sourceRope == "linear") config = config.With("rope_scaling", new Dictionary<string, object> { ["rope_type"] = "linear", ["factor"] = 3.0 });
        if (sourceRope == "llama3")
            config = config.With("rope_scaling", new Dictionary<string, object>
            {
                ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0, ["original_max_position_embeddings"] = 16,
            });
        var (model, calib, eval) = Setup(config, $"ds-{kvHeads}-{strategy}-{sourceRope}");
        var source = dir.File($"ds-{kvHeads}-{strategy}-{sourceRope}-mla");
        var convert = Support.Cli.Run("convert", model, "-o", source, "--rope-strategy", strategy, "--rope-shared", "--latent-norm", "--rope-pairs", "2",
            "--kv-rank", "4", "--calib-data", calib, "--calib-seq-len", "24", "--save-dtype", "f32");
        Assert.True(convert.ExitCode == 0, convert.ToString());
        var export = dir.File($"ds-{kvHeads}-{strategy}-{sourceRope}-export");
        var run = Support.Cli.Run("export", source, "-o", export, "--format", "deepseek-v3", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var report = JsonDocument.Parse(run.Stdout).RootElement;
        Assert.Equal(ropeType, report.GetProperty("rope").GetProperty("rope_type").GetString());

        var written = JsonDocument.Parse(File.ReadAllText(Path.Combine(export, "config.json"))).RootElement;
        Assert.Equal("deepseek_v3", written.GetProperty("model_type").GetString());
        Assert.Equal(kvHeads * 4, written.GetProperty("kv_lora_rank").GetInt32());
        Assert.Equal(kvHeads * 4, written.GetProperty("qk_rope_head_dim").GetInt32());
        Assert.Equal(12, written.GetProperty("qk_nope_head_dim").GetInt32());
        var layout = CheckpointLayout.AssertValid(export, mla: false);
        Assert.Contains("model.layers.0.self_attn.kv_a_layernorm.weight", layout.Keys);

        var (ours, theirs) = (Eval(source, eval), DeepSeek(export, eval));
        Assert.True(Relative(theirs, ours) <= 1e-5, $"DeepSeek-V3 reference {theirs} vs the MLA source {ours}");
        // And back: mha2mla reads the export (DeepSeek-V3 as MLA, its rope table default or longrope) as the model it was.
        var readBack = Eval(export, eval);
        Assert.True(Relative(readBack, ours) <= 1e-5, $"the export read back by mha2mla {readBack} vs the MLA source {ours}");
        // Read back and exported again: the same tensors, bit for bit.
        var again = dir.File($"ds-{kvHeads}-{strategy}-{sourceRope}-again");
        var rerun = Support.Cli.Run("export", export, "-o", again, "--format", "deepseek-v3");
        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        using (var first = Checkpoint.Open(export))
        using (var second = Checkpoint.Open(again))
        {
            Assert.Equal(first.Weights.Names.Order(StringComparer.Ordinal), second.Weights.Names.Order(StringComparer.Ordinal));
            foreach (var name in first.Weights.Names)
            {
                using var a = first.Weights.Read(name);
                using var b = second.Weights.Read(name);
                Assert.True(a.data<float>().SequenceEqual(b.data<float>()), $"{name} changed in the second export");
            }
        }
    }

    [Theory]
    [InlineData(1, "high", "--latent-norm")]   // a default-RoPE ladder, padded from 4 to 64 dims
    [InlineData(2, "2-norm", "--latent-norm")] // longrope factors for every padded pair
    [InlineData(2, "uniform", "")]             // a calibrated constant latent norm, rescaled as the trained one
    public void AKernelShapedExportComputesWhatTheUnpaddedOneComputes(int kvHeads, string strategy, string latentNorm)
    {
        var name = $"ds-shape-{kvHeads}-{strategy}";
        var (model, calib, eval) = Setup(TinyConfigs.Llama(4, kvHeads), name);
        var source = dir.File($"{name}-mla");
        var convert = Support.Cli.Run(["convert", model, "-o", source, "--rope-strategy", strategy, "--rope-shared", "--rope-pairs", "2",
            "--kv-rank", "4", "--calib-data", calib, "--calib-seq-len", "24", "--save-dtype", "f32", .. latentNorm.Length == 0 ? Array.Empty<string>() : [latentNorm]]);
        Assert.True(convert.ExitCode == 0, convert.ToString());
        string Export(string output, params string[] options)
        {
            var run = Support.Cli.Run(["export", source, "-o", output, "--format", "deepseek-v3", "--calib-data", calib, "--calib-seq-len", "24", "--json", .. options]);
            Assert.True(run.ExitCode == 0, run.ToString());
            return run.Stdout;
        }
        var (plain, padded) = (dir.File($"{name}-plain"), dir.File($"{name}-flashmla"));
        Export(plain);
        var report = JsonDocument.Parse(Export(padded, "--shape", "flashmla")).RootElement;

        var written = JsonDocument.Parse(File.ReadAllText(Path.Combine(padded, "config.json"))).RootElement;
        Assert.Equal((512, 64), (written.GetProperty("kv_lora_rank").GetInt32(), written.GetProperty("qk_rope_head_dim").GetInt32()));
        var (ours, unpadded) = (DeepSeek(padded, eval), DeepSeek(plain, eval));
        Assert.True(Relative(ours, unpadded) <= 1e-5, $"the flashmla-shaped export {ours} vs the unpadded one {unpadded}");

        // What the padding costs: the MLA engine's bf16 cache per token over the 2 layers, 4·n_kv + 4·n_kv → 512 + 64.
        var shape = report.GetProperty("shape");
        Assert.Equal("flashmla", shape.GetProperty("name").GetString());
        Assert.Equal((4 * kvHeads, 4 * kvHeads), (shape.GetProperty("kv_lora_rank_from").GetInt32(), shape.GetProperty("qk_rope_head_dim_from").GetInt32()));
        Assert.Equal(2L * 8 * kvHeads * 2, shape.GetProperty("cache_bytes_per_token_unpadded").GetInt64());
        Assert.Equal(2L * 576 * 2, shape.GetProperty("cache_bytes_per_token_padded").GetInt64());
        Assert.Equal(576, report.GetProperty("mla_engine_cache_elements_per_token_per_layer").GetInt64());
        CheckpointLayout.AssertValid(padded, mla: false);
    }

    [Fact]
    public void ARoRopeConversionExportsItsSharedHeadAsDeepSeeksRopeHead()
    {
        // Fold 2 with n_kv·r = 4 pairs keeps every group: pairs 0, 2, 4, 6 of d_h = 16, the ladder of a 8-wide rope head.
        var (model, calib, eval) = Setup(TinyConfigs.Llama(4, 2), "ds-rorope");
        var output = dir.File("ds-rorope-out");
        var run = Support.Cli.Run("convert", model, "-o", output, "--format", "deepseek-v3", "--rope-strategy", "rorope", "--freq-fold", "2", "--rope-pairs", "2",
            "--kv-rank", "4", "--calib-data", calib, "--calib-seq-len", "24", "--eval-data", eval, "--seq-len", "32", "--save-dtype", "f32", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var written = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "config.json"))).RootElement;
        Assert.Equal(8, written.GetProperty("qk_rope_head_dim").GetInt32());
        Assert.Equal(16, written.GetProperty("qk_nope_head_dim").GetInt32());
        Assert.Equal(JsonValueKind.Null, written.GetProperty("rope_scaling").ValueKind);   // a plain ladder: no longrope factors
        var converted = JsonDocument.Parse(run.Stdout).RootElement.GetProperty("conversion").GetProperty("perplexity").GetProperty("converted").GetDouble();
        Assert.True(Relative(DeepSeek(output, eval), converted) <= 1e-5, $"export {DeepSeek(output, eval)} vs the converted MLA model {converted}");

        var refused = Support.Cli.Run("convert", model, "-o", dir.File("ds-rorope-fold1"), "--format", "deepseek-v3", "--rope-strategy", "rorope", "--rope-pairs", "2",
            "--kv-rank", "4", "--calib-data", calib, "--calib-seq-len", "24");
        Support.Cli.AssertBadInput(refused, "--freq-fold 2 keeps every frequency group");
    }

    [Fact]
    public void ConvertWritesTheKernelShapeInOneGo()
    {
        var (model, calib, eval) = Setup(TinyConfigs.Llama(4, 2), "ds-convert-shape");
        var output = dir.File("ds-convert-shape-out");
        var run = Support.Cli.Run("convert", model, "-o", output, "--format", "deepseek-v3", "--shape", "flashmla", "--rope-pairs", "2", "--kv-rank", "4",
            "--calib-data", calib, "--calib-seq-len", "24", "--eval-data", eval, "--seq-len", "32", "--save-dtype", "f32", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var written = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "config.json"))).RootElement;
        Assert.Equal((512, 64), (written.GetProperty("kv_lora_rank").GetInt32(), written.GetProperty("qk_rope_head_dim").GetInt32()));
        var converted = JsonDocument.Parse(run.Stdout).RootElement.GetProperty("conversion").GetProperty("perplexity").GetProperty("converted").GetDouble();
        Assert.True(Relative(DeepSeek(output, eval), converted) <= 1e-5, $"flashmla-shaped export {DeepSeek(output, eval)} vs the converted MLA model {converted}");
        Support.Cli.AssertBadInput(Support.Cli.Run("convert", model, "-o", dir.File("shape-without-format"), "--shape", "flashmla", "--rope-strategy", "high"), "add --format deepseek-v3");
    }

    [Fact]
    public void AKernelShapedExportFineTunedKeepsItsPaddingZero()
    {
        // Why README says "pad, then fine-tune": every padded weight meets a zero on the other side of
        // its product, so its gradient is exactly zero and AdamW (weight decay included) leaves it zero.
        var (model, calib, eval) = Setup(TinyConfigs.Llama(4, 2), "ds-shape-tune");
        var padded = dir.File("ds-shape-tune-padded");
        var convert = Support.Cli.Run("convert", model, "-o", padded, "--format", "deepseek-v3", "--shape", "flashmla", "--rope-pairs", "2", "--kv-rank", "4",
            "--calib-data", calib, "--calib-seq-len", "24", "--save-dtype", "f32");
        Assert.True(convert.ExitCode == 0, convert.ToString());
        var tuned = dir.File("ds-shape-tune-tuned");
        var train = Support.Cli.Run("train", padded, "--data", eval, "--seq-len", "32", "--steps", "4", "--batch", "2", "--lr", "1e-2", "-o", tuned);
        Assert.True(train.ExitCode == 0, train.ToString());

        const int latent = 8, rope = 8, nope = 12;   // n_kv 2 × d_kv 4; n_kv 2 × 2 pairs × 2; d_h 16 − 2r
        using var before = Checkpoint.Open(padded);
        using var after = Checkpoint.Open(tuned);
        float[] Rows(Checkpoint c, string name, IEnumerable<long> rows)
        {
            using var t = c.Weights.Read(name);
            using var picked = t.index_select(0, torch.tensor(rows.ToArray()));
            return picked.data<float>().ToArray();
        }
        var attention = "model.layers.1.self_attn.";
        var padLatent = Enumerable.Range(latent, 512 - latent).Select(i => (long)i);
        var padRope = Enumerable.Range(512 + rope, 64 - rope).Select(i => (long)i);
        Assert.All(Rows(after, attention + "kv_a_proj_with_mqa.weight", padLatent.Concat(padRope)), x => Assert.Equal(0f, x));
        Assert.All(Rows(after, attention + "kv_a_layernorm.weight", padLatent), x => Assert.Equal(0f, x));
        var queryPad = Enumerable.Range(0, 4).SelectMany(h => Enumerable.Range(h * (nope + 64) + nope + rope, 64 - rope)).Select(i => (long)i);
        Assert.All(Rows(after, attention + "q_proj.weight", queryPad), x => Assert.Equal(0f, x));
        using (var kvB = after.Weights.Read(attention + "kv_b_proj.weight"))
        using (var columns = kvB.narrow(1, latent, 512 - latent).contiguous())
            Assert.All(columns.data<float>().ToArray(), x => Assert.Equal(0f, x));
        // ... while the real rows did train.
        var real = Enumerable.Range(0, latent).Select(i => (long)i).ToArray();
        Assert.NotEqual(Rows(before, attention + "kv_a_proj_with_mqa.weight", real), Rows(after, attention + "kv_a_proj_with_mqa.weight", real));
    }

    [Fact]
    public void ConvertWithTheDeepSeekFormatFineTunesThenExportsTheSameModel()
    {
        var (model, calib, eval) = Setup(TinyConfigs.Llama(4, 2), "ds-convert");
        var output = dir.File("ds-convert-out");
        var run = Support.Cli.Run("convert", model, "-o", output, "--format", "deepseek-v3", "--rope-pairs", "2", "--kv-rank", "4", "--calib-data", calib,
            "--calib-seq-len", "24", "--eval-data", eval, "--seq-len", "32", "--train-data", eval, "--steps", "4", "--batch", "2", "--save-dtype", "f32", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var reports = JsonDocument.Parse(run.Stdout).RootElement;
        var finetuned = reports.GetProperty("conversion").GetProperty("perplexity").GetProperty("finetuned").GetDouble();
        Assert.True(Relative(DeepSeek(output, eval), finetuned) <= 1e-5, $"export {DeepSeek(output, eval)} vs the fine-tuned MLA model {finetuned}");
        Assert.Equal(output, reports.GetProperty("conversion").GetProperty("output").GetString());
        foreach (var file in new[] { "mha2mla_report.json", "REPORT.md", "export_report.json", "finetune_metrics.jsonl" })
            Assert.True(File.Exists(Path.Combine(output, file)), file);
        Assert.False(Directory.Exists(Path.Combine(output, "mla")));
        Assert.DoesNotContain(Directory.GetDirectories(dir.Path), d => Path.GetFileName(d).StartsWith(".ds-convert-out", StringComparison.Ordinal));
    }

    [Fact]
    public void WhatDeepSeekCannotHoldIsRefusedAndANormlessSourceIsCalibrated()
    {
        var (model, calib, eval) = Setup(TinyConfigs.Llama(4, 2).With("num_hidden_layers", 4), "ds-refuse");
        string Convert(string name, params string[] options)
        {
            var output = dir.File(name);
            var result = Support.Cli.Run(["convert", model, "-o", output, "--rope-pairs", "2", "--calib-data", calib, "--calib-seq-len", "24", .. options]);
            Assert.True(result.ExitCode == 0, result.ToString());
            return output;
        }
        void Refused(string source, string fragment, params string[] options)
        {
            var output = dir.File($"refused-{Guid.NewGuid():N}");
            Support.Cli.AssertBadInput(Support.Cli.Run(["export", source, "-o", output, "--format", "deepseek-v3", .. options]), fragment);
            Assert.False(Directory.Exists(output));
        }
        Refused(model, "not an MLA checkpoint");
        Refused(Convert("per-layer", "--kv-budget", "27", "--latent-norm", "--rope-shared"), "one kv_lora_rank"); // 38 steps of 2 over 4 layers: never all equal
        var unshared = Convert("unshared", "--kv-rank", "4", "--latent-norm");
        var pairs = JsonDocument.Parse(File.ReadAllText(Path.Combine(unshared, "config.json"))).RootElement.GetProperty("mla").GetProperty("pairs").EnumerateArray().Select(l => l.GetRawText()).ToList();
        Assert.True(pairs.Distinct().Count() > 1, "the layers' own 2-norm choices should differ here: " + string.Join(" ", pairs));
        Refused(unshared, "--rope-shared");
        var normless = Convert("normless", "--kv-rank", "4", "--rope-strategy", "high");
        Refused(normless, "no latent norm");

        var export = dir.File("normless-export");
        var run = Support.Cli.Run("export", normless, "-o", export, "--format", "deepseek-v3", "--calib-data", calib, "--calib-seq-len", "24", "--eval-data", eval, "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("WRN] the source has no latent norm", run.Stderr);
        var report = JsonDocument.Parse(run.Stdout).RootElement;
        Assert.Equal("calibrated constant", report.GetProperty("latent_norm").GetString());
        Assert.Equal(Eval(normless, eval), report.GetProperty("source_perplexity").GetDouble(), 9);
        Assert.True(double.IsFinite(DeepSeek(export, eval)));

        var (qwen, qwenCalib, _) = Setup(TinyConfigs.Llama(4, 2).With("model_type", "qwen2"), "ds-qwen");
        Support.Cli.AssertBadInput(Support.Cli.Run("convert", qwen, "-o", dir.File("qwen-out"), "--format", "deepseek-v3", "--rope-pairs", "2",
            "--calib-data", qwenCalib, "--calib-seq-len", "24"), "biases");
        Assert.False(Directory.Exists(dir.File("qwen-out")));
        var (dynamic, dynamicCalib, _) = Setup(TinyConfigs.Llama(4, 2).With("rope_scaling", new Dictionary<string, object> { ["rope_type"] = "dynamic", ["factor"] = 2.0 }), "ds-dynamic");
        Support.Cli.AssertBadInput(Support.Cli.Run("convert", dynamic, "-o", dir.File("dynamic-out"), "--format", "deepseek-v3", "--rope-pairs", "2",
            "--calib-data", dynamicCalib, "--calib-seq-len", "24"), "'dynamic'");
    }

    public void Dispose() => dir.Dispose();
}
