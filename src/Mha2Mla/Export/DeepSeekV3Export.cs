using System.Text.Json;
using System.Text.Json.Nodes;
using Mha2Mla.Conversion;
using Mha2Mla.Evaluation;

namespace Mha2Mla.Export;

/// <summary>What `mha2mla export` was asked.</summary>
public sealed record ExportJob
{
    public required string Model { get; init; }
    public required string Output { get; init; }
    /// <summary>Needed where the source has no latent norm: the export's norm weight is then the latent's RMS on it.</summary>
    public DataOptions? Calibration { get; init; }
    public DataOptions? Evaluation { get; init; }
    public ScalarType? SaveDType { get; init; }
    /// <summary>Pad the latent and the rope head to a serving kernel's fixed shape; null: the source's widths.</summary>
    public KernelShape? Shape { get; init; }
    public bool Overwrite { get; init; }
}

/// <summary>export_report.json: what the export wrote and what its KV cache costs where.</summary>
public sealed record ExportReport(string Source, string Output, string Format, JsonObject Rope, int KvLoraRank, int QkRopeHeadDim, int QkNopeHeadDim,
    string LatentNorm, long SourceCacheElementsPerTokenPerLayer, long MlaEngineCacheElementsPerTokenPerLayer, long ExpandedCacheElementsPerTokenPerLayer,
    double? SourcePerplexity, IReadOnlyList<string> Warnings, ExportReport.Padding? Shape = null)
{
    /// <summary>
    /// What padding to a kernel shape costs: the MLA engine's cache per token over all layers, in
    /// bf16 (what serving engines cache in), before and after.
    /// </summary>
    public sealed record Padding(string Name, int KvLoraRankFrom, int QkRopeHeadDimFrom, long CacheBytesPerTokenUnpadded, long CacheBytesPerTokenPadded, double Increase)
    {
        /// <summary>Padding a latent of <paramref name="latent"/> and a rope head of <paramref name="rope"/> to <paramref name="shape"/> in <paramref name="layers"/> layers.</summary>
        public static Padding Of(KernelShape shape, int latent, int rope, int layers)
        {
            const int bf16 = 2;
            var (unpadded, padded) = ((long)(latent + rope), (long)(shape.KvLoraRank + shape.QkRopeHeadDim));
            return new Padding(shape.Name, latent, rope, unpadded * layers * bf16, padded * layers * bf16, (double)padded / unpadded - 1);
        }
    }
}

/// <summary>
/// Writes an mha2mla MLA checkpoint as a dense DeepSeek-V3 checkpoint that transformers'
/// DeepseekV3ForCausalLM loads as it is (docs/deepseek-v3-export.md): streamed one layer at a
/// time, built aside and swapped into place like every output. Refuses (exit 2) what
/// DeepSeek-V3 cannot express.
/// </summary>
public static class DeepSeekV3Export
{
    public const string Format = "deepseek-v3";

    public static ExportReport Run(ExportJob job, Action<string>? log = null)
    {
        using var source = Checkpoint.Open(job.Model);
        job = job with { Calibration = job.Calibration?.Resolve(source.Config, "--calib-seq-len", "--calib-samples"), Evaluation = job.Evaluation?.Resolve(source.Config) };
        if (source.Config.IsDeepSeekV3 && job.Shape is { } shape) DeepSeekV3Padding.Check(source.Config, shape);
        var layout = source.Config.IsDeepSeekV3 ? null : Plan(job.Model, source.Config, job.Calibration is not null, job.Shape);
        using var output = OutputDirectory.ForNewResult(job.Output, job.Overwrite, [source.Directory]);
        var report = (layout, job.Shape) switch
        {
            (null, null) => Rewrite(source, output.WorkDirectory, output.Path, job, log),
            (null, { } padTo) => DeepSeekV3Padding.Write(source, padTo, output.WorkDirectory, output.Path, SourcePerplexity(source, job, log), job.SaveDType, log),
            _ => Write(source, layout, output.WorkDirectory, output.Path, job, log),
        };
        output.Commit();
        return report;
    }

    /// <summary>
    /// A DeepSeek-V3 source, read as MLA and written back layer by layer: the same tensors (in
    /// --save-dtype if given), which is what makes MLA → DeepSeek-V3 → read back → DeepSeek-V3 exact.
    /// </summary>
    private static ExportReport Rewrite(Checkpoint source, string directory, string output, ExportJob job, Action<string>? log)
    {
        var (config, mla) = (source.Config, source.Config.Mla!);
        var perplexity = SourcePerplexity(source, job, log);
        var writer = new CheckpointWriter(directory, job.SaveDType ?? source.Weights.OutputType());
        WriteLayers(source, DeepSeekV3Weights.Source(source.Weights, config, Device.CPU), writer, (layer, l) => DeepSeekV3Weights.Layer(config, l, layer), log);
        var files = source.Files();
        writer.Finish(files with { Format = null });
        var rope = (files.Config["rope_parameters"] ?? files.Config["rope_scaling"])?.DeepClone() as JsonObject
                   ?? new JsonObject { ["rope_type"] = "default", ["rope_theta"] = config.Rope.Theta };
        var (ropeDim, cache) = (2 * mla.RopePairs, mla.CacheElementsPerToken(config, 0));
        var report = new ExportReport(source.Directory, output, Format, rope, mla.LatentDims[0], ropeDim, mla.NopeDim!.Value, "the source's", cache, cache,
            (long)config.NumAttentionHeads * (mla.NopeDim!.Value + ropeDim + mla.ValueDim!.Value), perplexity, []);
        AtomicFile.WriteAllText(Path.Combine(directory, "export_report.json"), JsonSerializer.Serialize(report, JsonFormat.Options));
        return report;
    }

    /// <summary>Checks an MLA source before any work; the layout its export takes.</summary>
    public static DeepSeekV3Layout Plan(string name, ModelConfig config, bool calibration, KernelShape? shape)
    {
        var mla = config.Mla ?? throw new InvalidInputException(
            $"{name} is not an MLA checkpoint; export takes what `mha2mla convert` wrote (or run `mha2mla convert --format deepseek-v3`)");
        CheckSource(config);
        if (mla.LatentDims.Distinct().Count() > 1)
            throw new InvalidInputException($"the layers have different latent widths ({mla.LatentDescription()}, --kv-budget) but DeepSeek-V3 has one kv_lora_rank; convert with --kv-rank");
        if (mla.Pairs.Any(layer => !layer.Zip(mla.Pairs[0]).All(heads => heads.First.SequenceEqual(heads.Second))))
            throw new InvalidInputException(mla.SharedRopeHead
                ? $"the shared rope head's pairs differ between layers but DeepSeek-V3 has one rotary table; convert with --freq-fold {config.HeadDim / (2 * mla.RopePairs)} (every frequency group kept, the same in every layer)"
                : "the kept RoPE pairs differ between layers but DeepSeek-V3 has one rotary table; convert with --rope-shared (2-norm) or --rope-strategy high, low or uniform");
        if (!mla.LatentNorm && !calibration)
            throw new InvalidInputException("the source has no latent norm, which DeepSeek-V3 always applies: give --calib-data to set its weight to the latent's RMS (or convert with --latent-norm and fine-tune)");
        return new DeepSeekV3Layout(config, mla.RopePairs, mla.LatentDims[0], mla.SharedRopeHead, shape);
    }

    /// <summary>Writes the export of an MLA checkpoint in the layout <see cref="Plan"/> gave into <paramref name="directory"/>.</summary>
    /// <param name="output">The name OUT will have, for the report.</param>
    public static ExportReport Write(Checkpoint source, DeepSeekV3Layout layout, string directory, string output, ExportJob job, Action<string>? log = null)
    {
        var (config, mla) = (source.Config, source.Config.Mla!);
        var warnings = new List<string>();
        double[]? calibrated = null;
        if (!mla.LatentNorm)
        {
            calibrated = LatentRms(source, job.Calibration!);
            warnings.Add("the source has no latent norm: the export's kv_a_layernorm has a constant weight (the latent's RMS on the calibration data), so its outputs differ from the source's; fine-tune after converting with --latent-norm for an exact export");
            Diagnostics.Warnings.Emit(warnings[^1]);
        }
        var perplexity = SourcePerplexity(source, job, log);
        var writer = new CheckpointWriter(directory, job.SaveDType ?? source.Weights.OutputType());
        WriteLayers(source, WeightSource.Checkpoint(source.Weights, Device.CPU), writer, (layer, l) => Layer(layer, l, layout, calibrated?[l]), log);
        return Finish(writer, config, source.Files(), layout, directory, source.Directory, output, perplexity, warnings);
    }

    // The source's perplexity where --eval-data asks for it (the figure the export's own eval is compared with).
    private static double? SourcePerplexity(Checkpoint source, ExportJob job, Action<string>? log)
    {
        if (job.Evaluation is not { } data) return null;
        using var model = LlamaModel.Load(source.Weights, source.Config, Device.CPU);
        var perplexity = Perplexity.Evaluate(model, source.ReadSequences(data)).Perplexity;
        log?.Invoke($"perplexity (source): {perplexity:F4}");
        return perplexity;
    }

    // Streams the source one decoder layer at a time from `weights`, each written as `deepSeek` names
    // and lays it out, then the embedding, final norm and head as they are.
    private static void WriteLayers(Checkpoint source, WeightSource weights, CheckpointWriter writer,
        Func<DecoderLayer, int, IEnumerable<(string Name, Tensor Value)>> deepSeek, Action<string>? log)
    {
        var layers = source.Config.NumHiddenLayers;
        for (var l = 0; l < layers; l++)
        {
            using var scope = torch.NewDisposeScope();
            using var layer = new DecoderLayer(source.Config, l, weights.Under(LlamaModel.LayerName(l)));
            writer.WriteShard(deepSeek(layer, l).ToList());
            log?.Invoke($"layer {l + 1}/{layers} exported");
            if (l == 0) Diagnostics.CrashPoints.Here("after-first-layer");
        }
        source.CopyOuterWeights(writer);
    }

    /// <summary>
    /// After the layers and the outer weights: the DeepSeek-V3 config.json (the rotary table of the
    /// kept pairs), the companions and export_report.json. Shared by `export` and `convert --format deepseek-v3`.
    /// </summary>
    internal static ExportReport Finish(CheckpointWriter writer, ModelConfig config, CheckpointFiles files, DeepSeekV3Layout layout, string directory,
        string source, string output, double? perplexity, IReadOnlyList<string> warnings)
    {
        var mla = config.Mla!;
        var frequencies = RopeFrequencies.Inverse(config);
        var wanted = mla.Pairs[0].SelectMany(head => head.Select(k => (double)frequencies[k])).ToArray();
        var rope = DeepSeekV3Layout.Rope(wanted, config.Rope.Theta, layout.RopeDim, config.MaxPositionEmbeddings);
        writer.Finish(files with { Config = Config(files.Config, config, layout, rope), Format = null });
        var report = new ExportReport(source, output, Format, rope, layout.Latent, layout.RopeDim, layout.NopeDim,
            mla.LatentNorm ? "the source's" : "calibrated constant", mla.CacheElementsPerToken(config, 0), layout.Latent + layout.RopeDim,
            (long)config.NumAttentionHeads * (layout.NopeDim + layout.RopeDim + config.HeadDim), perplexity, warnings, layout.Padding(config.NumHiddenLayers));
        AtomicFile.WriteAllText(Path.Combine(directory, "export_report.json"), JsonSerializer.Serialize(report, JsonFormat.Options));
        return report;
    }


    /// <summary>What DeepSeek-V3's attention cannot hold of the original model, each with the reason (checked before converting, too).</summary>
    public static void CheckSource(ModelConfig config)
    {
        if (config.QkvBias || config.OutputBias)
            throw new InvalidInputException("the source's attention has biases (Qwen2's q/k/v) but DeepSeek-V3's q_proj and kv_b_proj have none; such a model cannot be exported");
        if (Enumerable.Range(0, config.NumHiddenLayers).Any(l => config.WindowOf(l) is not null))
            throw new InvalidInputException("the source uses sliding-window attention, which DeepSeek-V3 does not have; such a model cannot be exported");
        if (config.Rope.Type is "dynamic" or "yarn")
            throw new InvalidInputException(config.Rope.Type == "dynamic"
                ? "the source's RoPE is 'dynamic' (NTK), whose frequencies change with the sequence length; DeepSeek-V3's table is fixed per pair"
                : "the source's RoPE is 'yarn', which scales attention; the export maps fixed frequencies only (default, linear, llama3)");
        if (config.Rope.Type is not ("default" or "linear" or "llama3"))
            throw new InvalidInputException($"the source's RoPE type '{config.Rope.Type}' cannot be exported; default, linear and llama3 can");
    }

    // Layer l of the MLA model under DeepSeek-V3's names: q_proj, kv_a_proj_with_mqa, kv_a_layernorm and
    // kv_b_proj are the MLA projections' rows rearranged (DeepSeekV3Layout); o_proj, the MLP and
    // the norms keep the names both architectures give them.
    internal static List<(string Name, Tensor Value)> Layer(DecoderLayer layer, int l, DeepSeekV3Layout layout, double? calibratedNorm)
    {
        var attention = (MlaAttention)layer.Attention;
        string Name(string rest) => $"{LlamaModel.LayerName(l)}.{DecoderLayer.AttentionName}.{rest}";
        Tensor Pick(Tensor[] parts, long[] rows) => DeepSeekV3Layout.PickRows(torch.cat(parts, 0), rows);
        var norm = calibratedNorm is { } rms ? torch.ones([layout.SourceLatent]) * rms : attention.LatentNorm!.Weight;
        return
        [
            (Name("q_proj.weight"), Pick([attention.Q.Weight], layout.QueryRows()) * layout.QueryScale),
            (Name("kv_a_proj_with_mqa.weight"), Pick([attention.KvDown.Weight, attention.KRope.Weight], layout.KvARows())),
            (Name("kv_a_layernorm.weight"), layout.LatentNormWeight(norm)),
            (Name("kv_b_proj.weight"), layout.PadLatentColumns(Pick([attention.KUp.Weight, attention.VUp.Weight], layout.KvBRows()))),
            .. attention.O.NamedParameters(Name("o_proj")),
            .. layer.NamedParameters(LlamaModel.LayerName(l)).Where(p => !p.Name.Contains($".{DecoderLayer.AttentionName}.", StringComparison.Ordinal)),
        ];
    }

    // config.json for DeepseekV3ForCausalLM: dense (every layer below first_k_dense_replace), one
    // latent of kv_lora_rank, no query LoRA, the rotary settings in both generations' fields.
    private static JsonObject Config(JsonObject original, ModelConfig config, DeepSeekV3Layout layout, JsonObject rope)
    {
        var result = new JsonObject
        {
            ["architectures"] = new JsonArray("DeepseekV3ForCausalLM"),
            ["model_type"] = "deepseek_v3",
            ["vocab_size"] = config.VocabSize,
            ["hidden_size"] = config.HiddenSize,
            ["intermediate_size"] = config.IntermediateSize,
            ["moe_intermediate_size"] = config.IntermediateSize,
            ["num_hidden_layers"] = config.NumHiddenLayers,
            ["num_attention_heads"] = config.NumAttentionHeads,
            ["num_key_value_heads"] = config.NumAttentionHeads,
            ["n_shared_experts"] = 1, ["n_routed_experts"] = 1, ["num_experts_per_tok"] = 1, ["n_group"] = 1, ["topk_group"] = 1,
            ["routed_scaling_factor"] = 1.0, ["norm_topk_prob"] = true,
            ["first_k_dense_replace"] = config.NumHiddenLayers,
            ["q_lora_rank"] = null,
            ["kv_lora_rank"] = layout.Latent,
            ["qk_nope_head_dim"] = layout.NopeDim,
            ["qk_rope_head_dim"] = layout.RopeDim,
            ["v_head_dim"] = config.HeadDim,
            ["head_dim"] = layout.RopeDim,
            ["hidden_act"] = "silu",
            ["max_position_embeddings"] = config.MaxPositionEmbeddings,
            ["rms_norm_eps"] = config.RmsNormEps,
            ["rope_interleave"] = true,
            ["rope_theta"] = rope["rope_theta"]!.DeepClone(),
            ["rope_scaling"] = rope["rope_type"]!.GetValue<string>() == "default" ? null : rope.DeepClone(),
            ["rope_parameters"] = rope.DeepClone(),
            ["attention_bias"] = false,
            ["attention_dropout"] = 0.0,
            ["tie_word_embeddings"] = config.TieWordEmbeddings,
        };
        foreach (var key in new[] { "bos_token_id", "eos_token_id", "pad_token_id", "initializer_range", "dtype", "torch_dtype", "transformers_version" })
            if (original.TryGetPropertyValue(key, out var value)) result[key] = value?.DeepClone();
        return result;
    }

    // Norm-less sources: each layer's latent RMS over the calibration tokens, streaming the MLA model one layer at a time.
    private static double[] LatentRms(Checkpoint source, DataOptions data)
    {
        var config = source.Config;
        using var noGrad = torch.no_grad();
        using var states = new CalibrationStates(source, source.ReadSequences(data));
        var weights = WeightSource.Checkpoint(source.Weights, Device.CPU);
        var result = new double[config.NumHiddenLayers];
        for (var l = 0; l < config.NumHiddenLayers; l++)
        {
            using var layer = new DecoderLayer(config, l, weights.Under(LlamaModel.LayerName(l)));
            var (sum, count) = (0.0, 0L);
            for (var i = 0; i < states.Count; i++)
            {
                using (torch.NewDisposeScope())
                {
                    var latent = ((MlaAttention)layer.Attention).KvDown.Forward(layer.InputNorm.Forward(states[i]));
                    (sum, count) = (sum + latent.pow(2).sum().item(), count + latent.numel());
                }
                states.Advance(i, layer);
            }
            result[l] = Math.Sqrt(sum / count);
        }
        return result;
    }
}
