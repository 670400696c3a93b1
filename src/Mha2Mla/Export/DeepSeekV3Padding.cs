using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mha2Mla.Export;

/// <summary>
/// `export --shape` of a DeepSeek-V3 checkpoint (one from another converter, or an export
/// fine-tuned elsewhere): its own tensors padded to a kernel shape in DeepSeek's layout, with no
/// MLA detour. As for an MLA source (<see cref="DeepSeekV3Layout"/>): the latent R → R' gets zero
/// rows in kv_a_proj_with_mqa, zero columns in kv_b_proj and a latent norm weight scaled by √(R/R');
/// the rope head d_r → d_r' gets zero rows in kv_a_proj_with_mqa and in each head of q_proj (or
/// q_b_proj) — appended pairs, after the kept ones in the stored order (interleaved, or each half of
/// rotate_half's) — and the queries are scaled by √((nope + d_r')/(nope + d_r)), so DeepSeek's
/// (qk_nope + qk_rope)^−½ softmax scale stays what it was. The kept pairs keep their frequencies:
/// default RoPE by θ' = θ^(d_r'/d_r) (a longer ladder through the same rungs; longrope factors
/// where θ' would overflow fp32), longrope by factors rescaled to the wider head. yarn is refused:
/// its ramp between interpolated and kept frequencies is set by the head width.
/// </summary>
public static class DeepSeekV3Padding
{
    /// <summary>θ' above this would be infinite in fp32, where engines compute inverse frequencies.</summary>
    private const double LargestTheta = 1e30;

    /// <summary>What the padding needs, checked before any work.</summary>
    public static void Check(ModelConfig config, KernelShape shape)
    {
        var mla = config.Mla!;
        var (latent, rope) = (mla.LatentDims[0], 2 * mla.RopePairs);
        if (latent > shape.KvLoraRank)
            throw new InvalidInputException($"--shape {shape.Name} takes a latent of {shape.KvLoraRank} and this checkpoint's kv_lora_rank is {latent}; it cannot be padded to it");
        if (rope > shape.QkRopeHeadDim)
            throw new InvalidInputException($"--shape {shape.Name} takes a rope head of {shape.QkRopeHeadDim} and this checkpoint's qk_rope_head_dim is {rope}; it cannot be padded to it");
        if (config.Rope.Type is not ("default" or "longrope"))
            throw new InvalidInputException($"--shape {shape.Name}: this checkpoint's RoPE is '{config.Rope.Type}', whose per-pair frequencies depend on qk_rope_head_dim, " +
                                            "so a wider rope head would change them; default and longrope RoPE can be padded");
    }

    /// <summary>Writes <paramref name="source"/> padded to <paramref name="shape"/> into <paramref name="directory"/>, one layer at a time.</summary>
    /// <param name="output">The name OUT will have, for the report.</param>
    public static ExportReport Write(Checkpoint source, KernelShape shape, string directory, string output, double? perplexity, ScalarType? saveDType, Action<string>? log)
    {
        var (config, mla) = (source.Config, source.Config.Mla!);
        var (latent, rope, nope) = (mla.LatentDims[0], 2 * mla.RopePairs, mla.NopeDim!.Value);
        var writer = new CheckpointWriter(directory, saveDType ?? source.Weights.OutputType());
        var queryScale = Math.Sqrt((double)(nope + shape.QkRopeHeadDim) / (nope + rope));
        static IEnumerable<long> Rows(long first, int count) => Enumerable.Range(0, count).Select(i => first + i);
        // A rope block of `rope` rows from `first` on, padded to the shape's: pairs appended after the kept ones in the stored order.
        IEnumerable<long> RopeRows(long first, long zero)
        {
            var added = shape.QkRopeHeadDim - rope;
            return config.RopeInterleaved
                ? Rows(first, rope).Concat(Enumerable.Repeat(zero, added))
                : Rows(first, rope / 2).Concat(Enumerable.Repeat(zero, added / 2)).Concat(Rows(first + rope / 2, rope / 2)).Concat(Enumerable.Repeat(zero, added / 2));
        }
        // Attention tensor `part` of a layer, padded (a row index one past the tensor's last is a zero row).
        Tensor Padded(string part, Tensor tensor) => part switch
        {
            "kv_a_proj_with_mqa.weight" => DeepSeekV3Layout.PickRows(tensor,
                Rows(0, latent).Concat(Enumerable.Repeat((long)(latent + rope), shape.KvLoraRank - latent)).Concat(RopeRows(latent, latent + rope))),
            "kv_a_layernorm.weight" => DeepSeekV3Layout.PadLatentNorm(tensor, shape.KvLoraRank),
            "kv_b_proj.weight" => DeepSeekV3Layout.PadLatentColumns(tensor, shape.KvLoraRank),
            "q_proj.weight" or "q_b_proj.weight" => DeepSeekV3Layout.PickRows(tensor, Enumerable.Range(0, config.NumAttentionHeads)
                .SelectMany(h => Rows((long)h * (nope + rope), nope).Concat(RopeRows((long)h * (nope + rope) + nope, tensor.size(0))))) * queryScale,
            _ => tensor,   // o_proj, q_a_proj, q_a_layernorm
        };

        for (var l = 0; l < config.NumHiddenLayers; l++)
        {
            using var scope = torch.NewDisposeScope();
            var prefix = LlamaModel.LayerName(l) + ".";
            var attention = $"{prefix}{DecoderLayer.AttentionName}.";
            var tensors = new List<(string, Tensor)>();
            // Cached rotary tables (some checkpoints carry them; every reader recomputes them) would be stale: left out.
            foreach (var name in source.Weights.Names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && !n.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal))
                         .Order(StringComparer.Ordinal))
            {
                var tensor = source.Weights.Read(name);
                tensors.Add((name, name.StartsWith(attention, StringComparison.Ordinal) ? Padded(name[attention.Length..], tensor) : tensor));
            }
            writer.WriteShard(tensors);
            log?.Invoke($"layer {l + 1}/{config.NumHiddenLayers} padded");
        }
        source.CopyOuterWeights(writer);

        var files = source.Files();
        var written = (JsonObject)files.Config.DeepClone();
        written["kv_lora_rank"] = shape.KvLoraRank;
        written["qk_rope_head_dim"] = shape.QkRopeHeadDim;
        if (written.ContainsKey("head_dim")) written["head_dim"] = shape.QkRopeHeadDim;
        var ropeJson = PadRope(written, config.Rope, rope, shape.QkRopeHeadDim, config.MaxPositionEmbeddings);
        writer.Finish(files with { Config = written, Format = null });

        var report = new ExportReport(source.Directory, output, DeepSeekV3Export.Format, ropeJson, shape.KvLoraRank, shape.QkRopeHeadDim, nope, "the source's, rescaled",
            latent + rope, shape.KvLoraRank + shape.QkRopeHeadDim, (long)config.NumAttentionHeads * (nope + shape.QkRopeHeadDim + mla.ValueDim!.Value), perplexity, [],
            ExportReport.Padding.Of(shape, latent, rope, config.NumHiddenLayers));
        AtomicFile.WriteAllText(Path.Combine(directory, "export_report.json"), JsonSerializer.Serialize(report, JsonFormat.Options));
        return report;
    }

    // config.json's rotary settings for a rope head of `to` dims whose first `from` keep their frequencies; the settings written.
    private static JsonObject PadRope(JsonObject config, RopeSettings rope, int from, int to, int maxPositions)
    {
        // θ^(2p/d_r − 2p/d_r'): what pair p's longrope factor gains when the head widens, so 1/(factor·θ^(2p/d_r')) stays.
        JsonArray Factors(double[] kept) => new(Enumerable.Range(0, to / 2)
            .Select(p => (JsonNode)JsonValue.Create(p < from / 2 ? kept[p] * Math.Pow(rope.Theta, 2.0 * p / from - 2.0 * p / to) : 1.0)!).ToArray());
        var objects = new[] { "rope_parameters", "rope_scaling" }.Select(key => config[key] as JsonObject).OfType<JsonObject>().ToList();
        if (rope.Type == "longrope")
        {
            foreach (var settings in objects)
                (settings["short_factor"], settings["long_factor"]) = (Factors(rope.ShortFactor!), Factors(rope.LongFactor!));
            return (JsonObject)objects[0].DeepClone();
        }
        var theta = Math.Pow(rope.Theta, (double)to / from);
        if (theta <= LargestTheta)
        {
            foreach (var settings in objects.Where(o => o.ContainsKey("rope_theta"))) settings["rope_theta"] = theta;
            if (config.ContainsKey("rope_theta") || objects.Count == 0) config["rope_theta"] = theta;
            return new JsonObject { ["rope_type"] = "default", ["rope_theta"] = theta };
        }
        var ones = Enumerable.Repeat(1.0, from / 2).ToArray();
        var longrope = new JsonObject
        {
            ["rope_type"] = "longrope", ["rope_theta"] = rope.Theta, ["short_factor"] = Factors(ones), ["long_factor"] = Factors(ones),
            ["factor"] = 1.0, ["attention_factor"] = 1.0, ["original_max_position_embeddings"] = maxPositions,
        };
        (config["rope_scaling"], config["rope_parameters"]) = (longrope.DeepClone(), longrope.DeepClone());
        return longrope;
    }
}
