namespace Mha2Mla.Models;

// The Llama family (Llama, Mistral, Qwen2) as Hugging Face's modeling_llama.py builds it, top to
// bottom: RMSNorm, rotary embedding, MLP, attention, decoder layer, the causal LM. Each module
// registers its children under the checkpoint's names (Module.cs); attention kernels and masks
// are in Attention.cs, KV caches in Caches.cs, MLA's attention in Mla.cs.

/// <summary>
/// x / sqrt(mean(x²) + ε) · w, as Llama's RMSNorm: below fp32 the statistics run in fp32 and the
/// result is narrowed back before the weight multiplies it, as transformers' LlamaRMSNorm does.
/// </summary>
public sealed class RmsNorm(WeightSource source, long width, double eps) : Module
{
    public Tensor Weight { get; private set; } = source.Take("weight", width);

    public Tensor Forward(Tensor x)
    {
        if (x.dtype == ScalarType.Float32) return Normalize(x) * Weight;
        using var wide = x.to(ScalarType.Float32);
        using var normed = Normalize(wide);
        using var narrow = normed.to(x.dtype);
        return Weight * narrow;
    }

    private Tensor Normalize(Tensor x)
    {
        using var variance = x.pow(2).mean([-1], keepdim: true);
        return x * (variance + eps).rsqrt();
    }

    /// <summary>Puts a computed weight in place of what the norm was made with (see <see cref="Linear.Set"/>).</summary>
    public void Set(Tensor weight)
    {
        Weight.Dispose();
        Weight = weight;
    }

    public override IEnumerable<(string Name, Tensor Value)> NamedParameters(string prefix = "") => [(Join(prefix, "weight"), Weight)];

    public override void Dispose() => Weight.Dispose();
}

/// <summary>
/// Rotary position embedding in Hugging Face's "rotate_half" layout: frequency pair k is the
/// dimension pair (k, k + d_h/2), rotated by angle t·θ_k with θ_k = base^(−2k/d_h).
/// </summary>
public sealed class RotaryEmbedding(ModelConfig config, Device device)
{
    /// <summary>θ_k for k &lt; d_h/2 at a length within max_position_embeddings, rounded to fp32 as Hugging Face stores them.</summary>
    public float[] InverseFrequencies { get; } = RopeFrequencies.Inverse(config);

    /// <summary>cos and sin tables (1, 1, T, d_h) for positions 0..T−1 (see <see cref="TablesAt"/>).</summary>
    public (Tensor Cos, Tensor Sin) Tables(long length)
    {
        using var scope = torch.NewDisposeScope();
        var positions = torch.arange(0, length, 1, ScalarType.Int64, device).unsqueeze(0);
        var (cos, sin) = TablesAt(positions, length);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// cos and sin tables (B, 1, T, d_h) for each sequence's own positions (B, T), times the RoPE
    /// type's attention factor (yarn's; 1 otherwise). <paramref name="longest"/>: the longest
    /// sequence the positions belong to, for the types whose frequencies depend on it.
    /// </summary>
    public (Tensor Cos, Tensor Sin) TablesAt(Tensor positions, long longest)
    {
        using var scope = torch.NewDisposeScope();
        var inverse = config.Rope.DependsOnLength ? RopeFrequencies.Inverse(config, longest) : InverseFrequencies;
        var frequencies = torch.tensor(inverse).to(device);
        var angles = positions.to(ScalarType.Float32).unsqueeze(-1) * frequencies;   // (B, T, d_h/2)
        var both = torch.cat([angles, angles], -1).unsqueeze(1);                     // (B, 1, T, d_h)
        var (cos, sin) = (both.cos(), both.sin());
        if (config.Rope.AttentionFactor != 1.0) (cos, sin) = (cos * config.Rope.AttentionFactor, sin * config.Rope.AttentionFactor);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>Rotates x (B, H, T, d_h) by tables from <see cref="Tables"/> or <see cref="TablesAt"/>.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin) => x * cos + RotateHalf(x) * sin;

    /// <summary>[x₁, x₂] → [−x₂, x₁] over the last dimension: the 90° turn of each (k, k + half) pair.</summary>
    public static Tensor RotateHalf(Tensor x)
    {
        var half = x.size(-1) / 2;
        return torch.cat([x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)], -1);
    }
}

/// <summary>SwiGLU: down(silu(gate(x)) · up(x)).</summary>
public sealed class Mlp : Module
{
    public Linear Gate { get; }
    public Linear Up { get; }
    public Linear Down { get; }

    public Mlp(ModelConfig config, WeightSource source)
    {
        var (d, inner) = (config.HiddenSize, config.IntermediateSize);
        Gate = Child("gate_proj", source, s => new Linear(s, inner, d, bias: false));
        Up = Child("up_proj", source, s => new Linear(s, inner, d, bias: false));
        Down = Child("down_proj", source, s => new Linear(s, d, inner, bias: false));
    }

    public Tensor Forward(Tensor x) => Down.Forward(torch.nn.functional.silu(Gate.Forward(x)) * Up.Forward(x));
}

/// <summary>
/// Grouped-query attention as in Hugging Face's LlamaAttention: RoPE on q and k, each KV head
/// shared by <see cref="ModelConfig.GroupSize"/> query heads, causal mask, scale 1/√d_h.
/// </summary>
public sealed class LlamaAttention : Attention
{
    private readonly ModelConfig config;
    public Linear Q { get; }
    public Linear K { get; }
    public Linear V { get; }
    public Linear O { get; }

    public LlamaAttention(ModelConfig config, WeightSource source)
    {
        this.config = config;
        var (d, qWidth, kvWidth) = (config.HiddenSize, config.NumAttentionHeads * config.HeadDim, config.NumKeyValueHeads * config.HeadDim);
        Q = Child("q_proj", source, s => new Linear(s, qWidth, d, config.QkvBias));
        K = Child("k_proj", source, s => new Linear(s, kvWidth, d, config.QkvBias));
        V = Child("v_proj", source, s => new Linear(s, kvWidth, d, config.QkvBias));
        O = Child("o_proj", source, s => new Linear(s, d, qWidth, config.OutputBias));
    }

    public override Tensor Forward(Tensor x, Tensor cos, Tensor sin, AttentionMask mask, LayerCache? cache = null)
    {
        var (batch, length) = (x.size(0), x.size(1));
        var (heads, kvHeads, headDim) = (config.NumAttentionHeads, config.NumKeyValueHeads, config.HeadDim);

        var query = Q.Forward(x).view(batch, length, heads, headDim).transpose(1, 2);
        var key = K.Forward(x).view(batch, length, kvHeads, headDim).transpose(1, 2);
        var value = V.Forward(x).view(batch, length, kvHeads, headDim).transpose(1, 2);

        query = RotaryEmbedding.Apply(query, cos, sin);
        key = RotaryEmbedding.Apply(key, cos, sin);
        if (cache is KeyValueCache cached)
        {
            // The cache holds the rotated keys and the values of every earlier token; attend over all of it.
            cached.Keys.Append(key);
            cached.Values.Append(value);
            (key, value) = (cached.Keys.Read(key.dtype), cached.Values.Read(value.dtype));
        }
        return O.Forward(ScaledDotProduct(config, query, key, value, mask));
    }
}

/// <summary>Pre-norm residual block: x + attn(norm(x)), then x + mlp(norm(x)).</summary>
public sealed class DecoderLayer : Module
{
    /// <summary>The attention block's name in a checkpoint ("model.layers.{i}.self_attn.…").</summary>
    public const string AttentionName = "self_attn";

    private readonly int? slidingWindow;
    public Attention Attention { get; private set; }
    public Mlp Mlp { get; }
    public RmsNorm InputNorm { get; }
    public RmsNorm PostAttentionNorm { get; }

    /// <summary>Decoder layer <paramref name="index"/> with the attention the config describes: GQA, or MLA once converted.</summary>
    public DecoderLayer(ModelConfig config, int index, WeightSource source)
    {
        slidingWindow = config.WindowOf(index);
        Attention = Child<Attention>(AttentionName, source, s => config.Mla is { } mla
            ? new MlaAttention(config, mla.Pairs[index], mla.LatentDims[index], mla.LatentNorm, s, mla.SharedRopeHead, mla)
            : new LlamaAttention(config, s));
        Attention.SlidingWindow = slidingWindow;
        Mlp = Child("mlp", source, s => new Mlp(config, s));
        InputNorm = Child("input_layernorm", source, s => new RmsNorm(s, config.HiddenSize, config.RmsNormEps));
        PostAttentionNorm = Child("post_attention_layernorm", source, s => new RmsNorm(s, config.HiddenSize, config.RmsNormEps));
    }

    /// <summary>Puts <paramref name="attention"/> (a conversion's MLA) in place of the layer's own, which is disposed.</summary>
    public void ReplaceAttention(Attention attention)
    {
        Attention.Dispose();
        Attention = Register(AttentionName, attention);
        Attention.SlidingWindow = slidingWindow;
    }

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, AttentionMask mask, LayerCache? cache = null)
    {
        var h = x + Attention.Forward(InputNorm.Forward(x), cos, sin, mask, cache);
        return h + Mlp.Forward(PostAttentionNorm.Forward(h));
    }
}

/// <summary>
/// A Llama-family decoder (Llama, Mistral, Qwen2), as Hugging Face's LlamaForCausalLM:
/// embeddings, N pre-norm decoder layers, final RMSNorm, tied or untied LM head. It computes in
/// its weights' dtype (<see cref="DType"/>), or in autocast's around it (<see cref="ComputePrecision"/>).
/// </summary>
public sealed class LlamaModel : Module
{
    public const string EmbeddingName = "model.embed_tokens.weight";
    public const string FinalNormName = "model.norm";
    public const string LmHeadName = "lm_head.weight";

    /// <summary>Decoder layer <paramref name="index"/>'s prefix in a checkpoint.</summary>
    public static string LayerName(int index) => $"model.layers.{index}";

    public ModelConfig Config { get; }
    public Device Device { get; }
    public Tensor Embedding { get; }
    public IReadOnlyList<DecoderLayer> Layers { get; }
    public RmsNorm FinalNorm { get; }
    /// <summary>The output projection; the embedding itself when the checkpoint ties them.</summary>
    public Tensor LmHead { get; }
    public RotaryEmbedding Rope { get; }
    /// <summary>How attention is computed (fused SDPA where libtorch has it); a setting, not part of the model.</summary>
    public AttentionKernel AttentionKernel
    {
        get => Layers.Count > 0 ? Layers[0].Attention.Kernel : AttentionKernel.Default;
        set { foreach (var layer in Layers) layer.Attention.Kernel = value; }
    }

    /// <param name="layers">Decoder layers made elsewhere (a conversion's), which the model owns from now on; null reads them from <paramref name="source"/>.</param>
    public LlamaModel(ModelConfig config, WeightSource source, Device device, IReadOnlyList<DecoderLayer>? layers = null)
    {
        if (layers is not null && layers.Count != config.NumHiddenLayers) throw new ArgumentException($"{layers.Count} layers for a config of {config.NumHiddenLayers}");
        (Config, Device, Rope) = (config, device, new RotaryEmbedding(config, device));
        var made = new List<DecoderLayer>();
        Layers = made;
        try
        {
            // Layers first, then the embedding and head: the order mha2mla has always drawn a
            // random initialization in, so a seed gives the model it gave before.
            for (var i = 0; i < config.NumHiddenLayers; i++)
                made.Add(layers is null ? Child(LayerName(i), source, s => new DecoderLayer(config, i, s)) : Register(LayerName(i), layers[i]));
            Embedding = source.Take(EmbeddingName, config.VocabSize, config.HiddenSize);
            FinalNorm = Child(FinalNormName, source, s => new RmsNorm(s, config.HiddenSize, config.RmsNormEps));
            LmHead = config.TieWordEmbeddings ? Embedding : source.Take(LmHeadName, config.VocabSize, config.HiddenSize);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads every weight the config calls for, checking each shape against the config, in
    /// <paramref name="dtype"/> (inference in bf16 holds bf16 weights, as transformers' torch_dtype).
    /// </summary>
    public static LlamaModel Load(WeightStore weights, ModelConfig config, Device device, ScalarType dtype = ScalarType.Float32) =>
        new(config, WeightSource.For(weights, config, device, dtype), device);

    /// <summary>A freshly initialized model (Hugging Face's Llama initialization), reproducible for a seed.</summary>
    public static LlamaModel Initialize(ModelConfig config, Device device, ulong seed)
    {
        torch.manual_seed(seed);
        return new LlamaModel(config, WeightSource.RandomInit(device), device);
    }

    /// <summary>The dtype of the weights, which the forward pass computes in unless autocast is on.</summary>
    public ScalarType DType => Embedding.dtype;

    /// <summary>
    /// Checks, before any work, that the weights are exactly the model config.json describes:
    /// every tensor it needs, in its shape, and none beyond (a config of 7 layers over 8-layer
    /// weights, say). Reads headers only: the model is made over empty tensors.
    /// </summary>
    public static void CheckShapes(WeightStore weights, ModelConfig config)
    {
        var requested = new HashSet<string>(StringComparer.Ordinal);
        using (torch.NewDisposeScope())
            new LlamaModel(config, WeightSource.ShapesFor(weights, config, requested), Device.CPU).Dispose();
        var extra = weights.Names.Where(n => !requested.Contains(n) && !Ignorable(n, config)).Order(StringComparer.Ordinal).ToList();
        if (extra.Count == 0) return;
        var layers = weights.Names.Select(LayerIndex).Where(i => i >= 0).DefaultIfEmpty(-1).Max() + 1;
        var why = layers > config.NumHiddenLayers
            ? $"the weights hold {layers} decoder layers but config.json says num_hidden_layers = {config.NumHiddenLayers}"
            : $"config.json does not describe {extra.Count} of the tensors (first: '{extra[0]}')";
        throw new InvalidInputException($"{weights.Directory}: {why}; config.json and the weights disagree");
    }

    // What a checkpoint may carry beyond the model: a head saved although tied, cached RoPE frequencies.
    private static bool Ignorable(string name, ModelConfig config) =>
        (name == LmHeadName && config.TieWordEmbeddings) || name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal);

    private static int LayerIndex(string name)
    {
        var prefix = LayerName(0)[..^1];
        if (!name.StartsWith(prefix, StringComparison.Ordinal)) return -1;
        var end = name.IndexOf('.', prefix.Length);
        return end > 0 && int.TryParse(name.AsSpan(prefix.Length, end - prefix.Length), out var i) ? i : -1;
    }

    /// <summary>
    /// A checkpoint's embedding, final norm and head around decoder layers built elsewhere (a
    /// conversion's); the model owns <paramref name="layers"/> from now on.
    /// </summary>
    public static LlamaModel WithLayers(WeightStore weights, ModelConfig config, Device device, IReadOnlyList<DecoderLayer> layers) =>
        new(config, WeightSource.Checkpoint(weights, device), device, layers);

    /// <summary>
    /// Every weight under its Hugging Face name, in state_dict order (a tied head appears once,
    /// as the embedding).
    /// </summary>
    public override IEnumerable<(string Name, Tensor Value)> NamedParameters(string prefix = "") =>
        OuterParameters().Take(1).Concat(base.NamedParameters(prefix)).Concat(OuterParameters().Skip(2));

    /// <summary>The weights outside the decoder layers: embedding, final norm and (untied) head.</summary>
    public IEnumerable<(string Name, Tensor Value)> OuterParameters()
    {
        yield return (EmbeddingName, Embedding);
        foreach (var p in FinalNorm.NamedParameters(FinalNormName)) yield return p;
        if (!ReferenceEquals(LmHead, Embedding)) yield return (LmHeadName, LmHead);
    }

    /// <summary>
    /// Writes the model as a Hugging Face checkpoint in <paramref name="dtype"/>: one shard per
    /// decoder layer, then one for the outer weights (the layout a streamed conversion writes too).
    /// </summary>
    public void Save(string directory, ScalarType dtype, CheckpointFiles files)
    {
        var writer = new CheckpointWriter(directory, dtype);
        if (Config.IsDeepSeekV3)
        {
            // Read as MLA, written back as the DeepSeek-V3 it came from.
            WriteShards(writer, (i, layer) => DeepSeekV3Weights.Layer(Config, i, layer));
            writer.Finish(files with { Format = null });
            return;
        }
        WriteShards(writer, (i, layer) => layer.NamedParameters(LayerName(i)));
        writer.Finish(files with { Format = Config.Mla?.IndexFormat });
    }

    /// <summary>
    /// One shard per decoder layer, each as <paramref name="layout"/> names and maps it (the
    /// modules' own names, or another architecture's), then one for the outer weights, which keep
    /// their names in every layout.
    /// </summary>
    public void WriteShards(CheckpointWriter writer, Func<int, DecoderLayer, IEnumerable<(string Name, Tensor Value)>> layout)
    {
        for (var i = 0; i < Layers.Count; i++)
        {
            using var scope = torch.NewDisposeScope();   // a layout may make new tensors (DeepSeek-V3's q_proj)
            writer.WriteShard(layout(i, Layers[i]).ToList());
        }
        writer.WriteShard(OuterParameters().ToList());
    }

    /// <summary>Logits (B, T, vocab) for token ids (B, T).</summary>
    public Tensor Forward(Tensor inputIds)
    {
        var length = inputIds.size(1);
        var (cos, sin) = InWeightType(Rope.Tables(length));
        using var mask = new AttentionMask(length, Device);
        return Run(inputIds, cos, sin, mask);
    }

    /// <summary>
    /// Logits (B, T, vocab) for the next T tokens (B, T) of sequences whose earlier tokens are in
    /// <paramref name="cache"/>; their keys (or latents) are appended to it. Each sequence's RoPE
    /// positions start after its left padding, and no real token attends to padding.
    /// </summary>
    public Tensor Forward(Tensor inputIds, KvCache cache)
    {
        using var scope = torch.NewDisposeScope();
        var (batch, length, start) = (inputIds.size(0), inputIds.size(1), cache.Length);
        var keys = start + length;
        var positions = new long[batch * length];
        var padKeys = new bool[batch * keys];
        var realQueries = new bool[batch * length];
        for (var b = 0; b < batch; b++)
        {
            var pad = cache.Padding[b];
            for (var t = 0; t < length; t++)
            {
                positions[b * length + t] = Math.Max(0, start + t - pad);
                realQueries[b * length + t] = start + t >= pad;
            }
            for (var j = 0; j < keys; j++) padKeys[b * keys + j] = j < pad;
        }
        var (cos, sin) = InWeightType(Rope.TablesAt(torch.tensor<long>(positions, [batch, length]).to(Device), keys - cache.Padding.Min()));
        // Real queries never see padding; padding queries see only earlier padding (a finite, unused row).
        var padding = torch.tensor<bool>(padKeys, [batch, 1, 1, keys]).to(Device)
            .logical_and(torch.tensor<bool>(realQueries, [batch, 1, length, 1]).to(Device));
        using var mask = new AttentionMask(start, length, keys, Device, padding);
        var logits = Run(inputIds, cos, sin, mask, cache);
        return logits.MoveToOuterDisposeScope();
    }

    // RoPE tables are computed in fp32 and narrowed to the hidden states' dtype, as transformers does.
    private (Tensor Cos, Tensor Sin) InWeightType((Tensor Cos, Tensor Sin) tables)
    {
        var dtype = DType;
        return dtype == ScalarType.Float32 ? tables : (tables.Cos.to(dtype), tables.Sin.to(dtype));
    }

    private Tensor Run(Tensor inputIds, Tensor cos, Tensor sin, AttentionMask mask, KvCache? cache = null)
    {
        var x = torch.nn.functional.embedding(inputIds, Embedding);
        for (var i = 0; i < Layers.Count; i++)
        {
            // One scope per layer: its intermediates are freed before the next layer runs.
            using var scope = torch.NewDisposeScope();
            var next = scope.MoveToOuter(Layers[i].Forward(x, cos, sin, mask, cache?.Layers[i]));
            x.Dispose();
            x = next;
        }
        return torch.nn.functional.linear(FinalNorm.Forward(x), LmHead);
    }

    public override void Dispose()
    {
        base.Dispose();
        if (!ReferenceEquals(LmHead, Embedding)) LmHead?.Dispose();
        Embedding?.Dispose();
    }
}
