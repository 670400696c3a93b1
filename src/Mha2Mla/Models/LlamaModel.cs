using Mha2Mla.Checkpoints;
using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>
/// A Llama-family decoder (Llama, Mistral, Qwen2), as Hugging Face's LlamaForCausalLM:
/// embeddings, N pre-norm decoder layers, final RMSNorm, tied or untied LM head. It computes in
/// its weights' dtype (<see cref="DType"/>), or in autocast's around it (<see cref="ComputePrecision"/>).
/// </summary>
public sealed class LlamaModel : IDisposable
{
    public ModelConfig Config { get; }
    public Device Device { get; }
    public Tensor Embedding { get; }
    public IReadOnlyList<DecoderLayer> Layers { get; }
    public RmsNorm FinalNorm { get; }
    /// <summary>The output projection; the embedding itself when the checkpoint ties them.</summary>
    public Tensor LmHead { get; }
    public RotaryEmbedding Rope { get; }
    /// <summary>How attention is computed (fused SDPA where libtorch has it); a setting, not part of the model.</summary>
    public AttentionKernel AttentionKernel { get; set; } = AttentionKernel.Default;

    private LlamaModel(ModelConfig config, Device device, Tensor embedding, List<DecoderLayer> layers, RmsNorm finalNorm, Tensor lmHead)
    {
        Config = config;
        Device = device;
        Embedding = embedding;
        Layers = layers;
        FinalNorm = finalNorm;
        LmHead = lmHead;
        Rope = new RotaryEmbedding(config, device);
    }

    /// <summary>
    /// Reads every weight the config calls for, checking each shape against the config, in
    /// <paramref name="dtype"/> (inference in bf16 holds bf16 weights, as transformers' torch_dtype).
    /// </summary>
    public static LlamaModel Load(WeightStore weights, ModelConfig config, Device device, ScalarType dtype = ScalarType.Float32) =>
        Build(WeightLoader.FromStore(weights, config, device, dtype), config, device);

    /// <summary>The dtype of the weights, which the forward pass computes in unless autocast is on.</summary>
    public ScalarType DType => Embedding.dtype;

    /// <summary>
    /// Checks, before any work, that the weights are exactly the model config.json describes:
    /// every tensor it needs, in its shape, and none beyond (a config of 7 layers over 8-layer
    /// weights, say). Reads headers only.
    /// </summary>
    public static void CheckShapes(WeightStore weights, ModelConfig config)
    {
        var requested = new HashSet<string>(StringComparer.Ordinal);
        using (torch.NewDisposeScope())
            Build(WeightLoader.ShapesOf(weights, config, requested), config, Device.CPU).Dispose();
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
        (name == WeightNames.LmHead && config.TieWordEmbeddings) || name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal);

    private static int LayerIndex(string name)
    {
        const string prefix = "model.layers.";
        if (!name.StartsWith(prefix, StringComparison.Ordinal)) return -1;
        var end = name.IndexOf('.', prefix.Length);
        return end > 0 && int.TryParse(name.AsSpan(prefix.Length, end - prefix.Length), out var i) ? i : -1;
    }

    /// <summary>A freshly initialized model (Hugging Face's Llama initialization), reproducible for a seed.</summary>
    public static LlamaModel Initialize(ModelConfig config, Device device, ulong seed)
    {
        torch.manual_seed(seed);
        return Build(WeightLoader.RandomInit(config, device), config, device);
    }

    /// <summary>
    /// A checkpoint's embedding, final norm and head around decoder layers built elsewhere (a
    /// conversion's); the model owns <paramref name="layers"/> from now on.
    /// </summary>
    public static LlamaModel WithLayers(WeightStore weights, ModelConfig config, Device device, IReadOnlyList<DecoderLayer> layers)
    {
        if (layers.Count != config.NumHiddenLayers) throw new ArgumentException($"{layers.Count} layers for a config of {config.NumHiddenLayers}");
        return Build(WeightLoader.FromStore(weights, config, device), config, device, layers);
    }

    private static LlamaModel Build(WeightLoader loader, ModelConfig config, Device device, IReadOnlyList<DecoderLayer>? given = null)
    {
        var created = new List<IDisposable>(given ?? []);
        try
        {
            var layers = given?.ToList() ?? [];
            for (var i = layers.Count; i < config.NumHiddenLayers; i++)
            {
                var layer = loader.ReadLayer(i);
                layers.Add(layer);
                created.Add(layer);
            }
            var embedding = loader.Read(WeightNames.Embedding, config.VocabSize, config.HiddenSize);
            created.Add(embedding);
            var finalNorm = new RmsNorm(loader.Read(WeightNames.FinalNorm, config.HiddenSize), config.RmsNormEps);
            var lmHead = config.TieWordEmbeddings ? embedding : loader.Read(WeightNames.LmHead, config.VocabSize, config.HiddenSize);
            return new LlamaModel(config, device, embedding, layers, finalNorm, lmHead);
        }
        catch
        {
            foreach (var item in created) item.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Every weight under its Hugging Face name, in state_dict order (a tied head appears once,
    /// as the embedding).
    /// </summary>
    public IEnumerable<(string Name, Tensor Value)> NamedParameters() =>
        OuterParameters().Take(1).Concat(Layers.SelectMany((layer, i) => layer.NamedParameters(i))).Concat(OuterParameters().Skip(1));

    /// <summary>The weights outside the decoder layers: embedding, final norm and (untied) head.</summary>
    public IEnumerable<(string Name, Tensor Value)> OuterParameters()
    {
        yield return (WeightNames.Embedding, Embedding);
        yield return (WeightNames.FinalNorm, FinalNorm.Weight);
        if (!ReferenceEquals(LmHead, Embedding)) yield return (WeightNames.LmHead, LmHead);
    }

    /// <summary>
    /// Writes the model as a Hugging Face checkpoint in <paramref name="dtype"/>: one shard per
    /// decoder layer, then one for the outer weights (the layout a streamed conversion writes too).
    /// </summary>
    public void Save(string directory, ScalarType dtype, CheckpointFiles files)
    {
        var writer = new CheckpointWriter(directory, dtype);
        for (var i = 0; i < Layers.Count; i++) writer.WriteShard(Layers[i].NamedParameters(i).ToList());
        writer.WriteShard(OuterParameters().ToList());
        writer.Finish(files with { Format = Config.Mla?.IndexFormat });
    }

    /// <summary>
    /// Rounds every weight to <paramref name="dtype"/> and back, in place, so that what runs is
    /// exactly what a checkpoint of that dtype will hold.
    /// </summary>
    public void RoundWeightsTo(ScalarType dtype)
    {
        using var noGrad = torch.no_grad();
        foreach (var (_, weight) in NamedParameters())
        {
            using var rounded = weight.to(dtype);
            weight.copy_(rounded);
        }
    }

    /// <summary>Logits (B, T, vocab) for token ids (B, T).</summary>
    public Tensor Forward(Tensor inputIds)
    {
        var length = inputIds.size(1);
        var (cos, sin) = InWeightType(Rope.Tables(length));
        using var masks = new CausalMasks(length, Device);
        return Run(inputIds, i => new AttentionInputs(cos, sin, masks.For(Config.WindowOf(i)), Kernel: AttentionKernel));
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
        using var masks = new CausalMasks(start, length, keys, Device, padding);
        var logits = Run(inputIds, i => new AttentionInputs(cos, sin, masks.For(Config.WindowOf(i)), cache.Layers[i], cache.Absorb, AttentionKernel));
        return logits.MoveToOuterDisposeScope();
    }

    // RoPE tables are computed in fp32 and narrowed to the hidden states' dtype, as transformers does.
    private (Tensor Cos, Tensor Sin) InWeightType((Tensor Cos, Tensor Sin) tables)
    {
        var dtype = DType;
        return dtype == ScalarType.Float32 ? tables : (tables.Cos.to(dtype), tables.Sin.to(dtype));
    }

    private Tensor Run(Tensor inputIds, Func<int, AttentionInputs> inputsFor)
    {
        var x = torch.nn.functional.embedding(inputIds, Embedding);
        for (var i = 0; i < Layers.Count; i++)
        {
            // One scope per layer: its intermediates are freed before the next layer runs.
            using var scope = torch.NewDisposeScope();
            var next = scope.MoveToOuter(Layers[i].Forward(x, inputsFor(i)));
            x.Dispose();
            x = next;
        }
        return torch.nn.functional.linear(FinalNorm.Forward(x), LmHead);
    }

    public void Dispose()
    {
        foreach (var layer in Layers) layer.Dispose();
        FinalNorm.Dispose();
        if (!ReferenceEquals(LmHead, Embedding)) LmHead.Dispose();
        Embedding.Dispose();
    }
}
