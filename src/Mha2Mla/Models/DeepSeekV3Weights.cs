namespace Mha2Mla.Models;

/// <summary>
/// A dense DeepSeek-V3 checkpoint's attention read as mha2mla's <see cref="MlaAttention"/>
/// (transformers' modeling_deepseek_v3 names on the left):
/// <list type="bullet">
/// <item>q_proj (or q_b_proj after q_a_proj, q_a_layernorm): each head's [qk_nope | qk_rope] rows
/// become MLA's [rope | nope], the rope rows de-interleaved ((x₀, y₀, x₁, y₁, …) → (x₀, x₁, …, y₀,
/// y₁, …), rotate_half's order; not where rope_interleave is false); yarn's softmax factor
/// (<see cref="SoftmaxMscale"/>) is applied by MlaAttention, so the weights stay DeepSeek's;</item>
/// <item>kv_a_proj_with_mqa: its first kv_lora_rank rows are kv_down_proj, the rest the shared rope
/// head's k_rope_proj (de-interleaved alike); kv_a_layernorm is kv_latent_norm;</item>
/// <item>kv_b_proj: each head's first qk_nope_head_dim rows are its k_up_proj rows, the next
/// v_head_dim its v_up_proj rows; o_proj, the MLP, norms, embedding and head keep their names.</item>
/// </list>
/// Each DeepSeek tensor is checked against the shape its config implies, so a config that
/// disagrees with its weights is reported by the checkpoint's own name. <see cref="Layer"/> maps
/// back, exactly (rows only move), so what `train` writes of a DeepSeek-V3 input is DeepSeek-V3.
/// </summary>
public static class DeepSeekV3Weights
{
    /// <summary>What one of MLA's tensors is made of: rows of a DeepSeek tensor (of the shape its config implies); all rows where null.</summary>
    private sealed record Recipe(string Name, long[] Shape, long[]? Rows = null);

    /// <summary>The checkpoint's tensors, mapped as they are read.</summary>
    public static WeightSource Source(WeightStore weights, ModelConfig config, Device device, ScalarType dtype = ScalarType.Float32)
    {
        // kv_down/k_rope and k_up/v_up are rows of one tensor each, asked for one after the other:
        // the last tensor that gave rows is kept until another is read, so each is read once.
        (string Name, Tensor Value)? last = null;
        return WeightSource.Computed((name, shape) =>
        {
            var recipe = RecipeFor(config, name, shape);
            WeightSource.CheckShape(weights, recipe.Name, recipe.Shape);
            if (recipe.Rows is not { } rows) return weights.Read(recipe.Name, dtype);   // freed with Take's scope
            if (last?.Name != recipe.Name)
            {
                last?.Value.Dispose();
                last = (recipe.Name, weights.Read(recipe.Name, dtype).DetachFromDisposeScope());
            }
            return last.Value.Value.index_select(0, torch.tensor(rows));
        }, device);
    }

    /// <summary>Checks every DeepSeek tensor's shape, reading no data; <paramref name="requested"/> collects the DeepSeek names read.</summary>
    public static WeightSource Shapes(WeightStore weights, ModelConfig config, ISet<string> requested) =>
        WeightSource.Computed((name, shape) =>
        {
            var recipe = RecipeFor(config, name, shape);
            WeightSource.CheckShape(weights, recipe.Name, recipe.Shape);
            requested.Add(recipe.Name);
            return torch.zeros([0]);
        }, Device.CPU);

    // Where MLA's tensor `name` (of `shape`) comes from in the DeepSeek checkpoint.
    private static Recipe RecipeFor(ModelConfig config, string name, long[] shape)
    {
        var split = name.LastIndexOf($".{DecoderLayer.AttentionName}.", StringComparison.Ordinal);
        if (split < 0) return new Recipe(name, shape);
        var mla = config.Mla!;
        var (heads, rope, nope, value, latent, d) = (config.NumAttentionHeads, 2 * mla.RopePairs, mla.NopeDim!.Value, mla.ValueDim!.Value, mla.LatentDims[0], config.HiddenSize);
        var (layer, projection) = (name[..split], name[(split + DecoderLayer.AttentionName.Length + 2)..]);
        string Theirs(string rest) => $"{layer}.{DecoderLayer.AttentionName}.{rest}";
        // A head's rope rows stored from `first` on, in rotate_half's order.
        IEnumerable<long> RopeRows(long first) => Enumerable.Range(0, rope).Select(i =>
            first + (!config.RopeInterleaved ? i : i < rope / 2 ? 2 * i : 2 * (i - rope / 2) + 1));
        IEnumerable<long> Range(long first, int count) => Enumerable.Range(0, count).Select(i => first + i);
        long[] PerHead(int width, Func<long, IEnumerable<long>> rows) => Enumerable.Range(0, heads).SelectMany(h => rows((long)h * width)).ToArray();
        long[] kvA = [latent + rope, d], kvB = [heads * (nope + value), latent];
        return projection switch
        {
            "q_proj.weight" => new Recipe(Theirs(mla.QueryLoraRank is null ? "q_proj.weight" : "q_b_proj.weight"), [heads * (nope + rope), mla.QueryLoraRank ?? d],
                PerHead(nope + rope, first => RopeRows(first + nope).Concat(Range(first, nope)))),
            "kv_down_proj.weight" => new Recipe(Theirs("kv_a_proj_with_mqa.weight"), kvA, Range(0, latent).ToArray()),
            "k_rope_proj.weight" => new Recipe(Theirs("kv_a_proj_with_mqa.weight"), kvA, RopeRows(latent).ToArray()),
            "k_up_proj.weight" => new Recipe(Theirs("kv_b_proj.weight"), kvB, PerHead(nope + value, first => Range(first, nope))),
            "v_up_proj.weight" => new Recipe(Theirs("kv_b_proj.weight"), kvB, PerHead(nope + value, first => Range(first + nope, value))),
            "kv_latent_norm.weight" => new Recipe(Theirs("kv_a_layernorm.weight"), shape),
            _ => new Recipe(name, shape),   // o_proj, q_a_proj, q_a_layernorm
        };
    }

    /// <summary>
    /// Decoder layer <paramref name="index"/>'s weights under DeepSeek-V3's names and layout: each
    /// tensor MLA read from the checkpoint put back in its rows (the inverse of the reading), the
    /// rest under its own name.
    /// </summary>
    public static IEnumerable<(string Name, Tensor Value)> Layer(ModelConfig config, int index, DecoderLayer layer)
    {
        var attention = (MlaAttention)layer.Attention;
        var prefix = LlamaModel.LayerName(index);
        string Ours(string rest) => $"{prefix}.{DecoderLayer.AttentionName}.{rest}";
        // Their tensor from ours stacked, each read from the rows its recipe names: our row k is their row rows[k].
        (string, Tensor) Back(params (string Name, Tensor Value)[] ours)
        {
            var recipes = ours.Select(o => RecipeFor(config, Ours(o.Name), [])).ToArray();
            if (recipes[0].Rows is null) return (recipes[0].Name, ours[0].Value);   // renamed only (kv_latent_norm)
            var rows = recipes.SelectMany(r => r.Rows!).ToArray();
            var inverse = new long[rows.Length];
            for (var k = 0; k < rows.Length; k++) inverse[rows[k]] = k;
            return (recipes[0].Name, torch.cat(ours.Select(o => o.Value).ToArray(), 0).index_select(0, torch.tensor(inverse)));
        }
        (string Name, Tensor Value)[][] groups =
        [
            [("q_proj.weight", attention.Q.Weight)],
            [("kv_down_proj.weight", attention.KvDown.Weight), ("k_rope_proj.weight", attention.KRope.Weight)],
            [("kv_latent_norm.weight", attention.LatentNorm!.Weight)],
            [("k_up_proj.weight", attention.KUp.Weight), ("v_up_proj.weight", attention.VUp.Weight)],
        ];
        var moved = groups.SelectMany(g => g.Select(o => Ours(o.Name))).ToHashSet();
        return [.. layer.NamedParameters(prefix).Where(p => !moved.Contains(p.Name)), .. groups.Select(Back)];
    }

    /// <summary>
    /// yarn_get_mscale(factor, mscale_all_dim)² (0.1·m·ln(factor) + 1, squared), which
    /// DeepseekV3Attention multiplies its softmax scale by where the rope settings give
    /// mscale_all_dim; 1 otherwise. MlaAttention scales the queries by it: every score scales with them.
    /// </summary>
    public static double SoftmaxMscale(RopeSettings rope) =>
        rope is { Type: "yarn", MscaleAllDim: { } m, Factor: { } factor } && m != 0 && factor > 1 ? Math.Pow(0.1 * m * Math.Log(factor) + 1.0, 2) : 1.0;
}
