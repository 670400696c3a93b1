using System.Diagnostics;

namespace Mha2Mla.Decoding;

public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 64;
    public SamplingOptions Sampling { get; init; } = new();
    public CacheFormat Cache { get; init; } = CacheFormat.F32;
    /// <summary>MLA: attend against the cached latent (absorbed), or rebuild keys and values from it at every step.</summary>
    public bool Absorb { get; init; } = true;
    /// <summary>Keep a KV cache across steps; off, every step recomputes the whole prefix (for checking the cache).</summary>
    public bool UseCache { get; init; } = true;
    /// <summary>Tokens that end a sequence.</summary>
    public IReadOnlySet<int> Eos { get; init; } = new HashSet<int>();

    /// <summary>
    /// Refuses, before any weight is loaded, what this model cannot decode for these (non-empty)
    /// prompts: a sampling setting out of range, no new tokens, or positions past the model's
    /// max_position_embeddings. <see cref="GenerationJob.Plan"/> calls it; <see cref="Generator"/> trusts it.
    /// </summary>
    public void Check(Configs.ModelConfig config, IReadOnlyList<int[]> prompts)
    {
        Sampling.Check();
        if (MaxNewTokens < 1) throw new InvalidInputException($"--max-new-tokens must be at least 1, not {MaxNewTokens}");
        var (longest, max) = (prompts.Max(p => p.Length), config.MaxPositionEmbeddings);
        if (longest > max) throw new InvalidInputException($"a prompt of {longest} tokens is longer than the model's max_position_embeddings ({max})");
        if (longest + MaxNewTokens > max)
            throw new InvalidInputException($"a prompt of {longest} tokens plus --max-new-tokens {MaxNewTokens} goes past max_position_embeddings ({max}); lower --max-new-tokens");
    }
}

/// <param name="Tokens">The generated ids of each prompt (EOS excluded).</param>
/// <param name="KvCacheBytes">Bytes the cache's tensors held (every position of its capacity).</param>
/// <param name="KvCacheBytesPerToken">The same per token of capacity per sequence.</param>
public sealed record GenerationResult(IReadOnlyList<int[]> Tokens, long PromptTokens, long GeneratedTokens, double PrefillSeconds,
    double DecodeSeconds, long KvCacheBytes, double KvCacheBytesPerToken);

/// <summary>
/// Autoregressive generation for a batch of prompts of different lengths: prompts are
/// left-padded and share cache positions, each with its own RoPE positions (see
/// <see cref="KvCache"/>). One prefill pass over the prompts fills the cache, then one token per
/// step. With <see cref="GenerationOptions.UseCache"/> off, each step recomputes everything.
/// </summary>
public static class Generator
{
    /// <param name="prompts">Non-empty token sequences.</param>
    /// <param name="options">Checked for this model and these prompts (<see cref="GenerationOptions.Check"/>).</param>
    /// <param name="onToken">Called with (prompt index, token) as each token is chosen.</param>
    public static GenerationResult Generate(LlamaModel model, IReadOnlyList<int[]> prompts, GenerationOptions options, Action<int, int>? onToken = null)
    {
        var longest = prompts.Max(p => p.Length);

        using var noGrad = torch.no_grad();
        var batch = prompts.Count;
        var padding = prompts.Select(p => (long)(longest - p.Length)).ToArray();
        var sequences = prompts.Select(p => new List<int>(p)).ToArray();
        var generated = prompts.Select(_ => new List<int>()).ToArray();
        var done = new bool[batch];
        var sampler = new Sampler(options.Sampling);
        var capacity = longest + options.MaxNewTokens;
        using var cache = options.UseCache ? new KvCache(model.Config, padding, capacity, options.Cache, model.Device, options.Absorb) : null;
        long bytes = cache?.AllocatedBytes ?? 0;
        var bytesPerToken = cache?.BytesPerToken ?? 0;

        var clock = Stopwatch.StartNew();
        double prefillSeconds = 0;
        var input = LeftPadded(sequences, padding, longest, model.Device);
        for (var step = 0; step < options.MaxNewTokens && !done.All(d => d); step++)
        {
            float[] last;
            using (var scope = torch.NewDisposeScope())
            {
                Tensor logits;
                if (cache is not null) logits = model.Forward(input, cache);
                else
                {
                    // No cache: the whole prefix again, through a cache that lives for this step only.
                    using var fresh = new KvCache(model.Config, padding, longest + step, options.Cache, model.Device, options.Absorb);
                    using var prefix = LeftPadded(sequences, padding, longest + step, model.Device);
                    logits = model.Forward(prefix, fresh);
                }
                last = logits.narrow(1, logits.size(1) - 1, 1).to(ScalarType.Float32, Device.CPU).data<float>();
            }
            if (step == 0) prefillSeconds = clock.Elapsed.TotalSeconds;
            var vocab = last.Length / batch;
            var next = new int[batch];
            for (var b = 0; b < batch; b++)
            {
                next[b] = done[b] ? next[b] : sampler.Next(last.AsSpan(b * vocab, vocab));
                if (done[b]) continue;
                if (options.Eos.Contains(next[b])) { done[b] = true; continue; }
                generated[b].Add(next[b]);
                sequences[b].Add(next[b]);
                onToken?.Invoke(b, next[b]);
            }
            input.Dispose();
            input = Ids(Array.ConvertAll(next, t => (long)t), batch, 1, model.Device);
        }
        input.Dispose();
        var decodeSeconds = clock.Elapsed.TotalSeconds - prefillSeconds;
        var generatedTokens = generated.Sum(g => (long)g.Count);
        return new GenerationResult(generated.Select(g => g.ToArray()).ToList(), prompts.Sum(p => (long)p.Length), generatedTokens,
            prefillSeconds, decodeSeconds, bytes, bytesPerToken);
    }

    // (B, length) ids: each sequence right-aligned after its padding (id 0, never attended to).
    private static Tensor LeftPadded(List<int>[] sequences, long[] padding, long length, Device device)
    {
        var ids = new long[sequences.Length * length];
        for (var b = 0; b < sequences.Length; b++)
            for (var t = 0; t < sequences[b].Count && padding[b] + t < length; t++)
                ids[b * length + padding[b] + t] = sequences[b][t];
        return Ids(ids, sequences.Length, length, device);
    }

    // A (rows, columns) id tensor on the device, owned by the caller (the CPU copy is freed here, not left to the finalizer).
    private static Tensor Ids(long[] ids, long rows, long columns, Device device)
    {
        using var scope = torch.NewDisposeScope();
        return torch.tensor<long>(ids, [rows, columns]).to(device).DetachFromDisposeScope();
    }
}
