using System.Text.Json;
using Mha2Mla.Tokenization;

namespace Mha2Mla.Decoding;

/// <summary>What `mha2mla generate` was asked: a model, one prompt or a file of them, and how to decode.</summary>
public sealed record GenerationJobOptions
{
    public required string Model { get; init; }
    /// <summary>The text to continue; exactly one of this and <see cref="PromptsFile"/>.</summary>
    public string? Prompt { get; init; }
    /// <summary>.jsonl of {"prompt": TEXT} (or "text") per line, or .json: an array of arrays of token ids.</summary>
    public string? PromptsFile { get; init; }
    public int MaxNewTokens { get; init; } = 64;
    public SamplingOptions Sampling { get; init; } = new();
    /// <summary>Prompts decoded together.</summary>
    public int Batch { get; init; } = 8;
    public bool Absorb { get; init; } = true;
    /// <summary>null: exact fp32.</summary>
    public CacheFormat? Cache { get; init; }
    public Device Device { get; init; } = Device.CPU;
    public ScalarType? ComputeType { get; init; }
}

/// <summary>What `mha2mla generate --json` prints.</summary>
public sealed record GenerationReport(IReadOnlyList<string> Completions, long PromptTokens, long GeneratedTokens, double PrefillSeconds,
    double DecodeTokensPerSecond, long KvCacheBytes, double KvCacheBytesPerToken, string KvCacheDtype);

/// <summary>
/// `mha2mla generate` as a job: <see cref="Plan"/> reads and tokenizes the prompts and checks
/// every setting before any weight is loaded; <see cref="GenerationPlan.Run"/> decodes them in
/// batches with a KV cache (MLA: the latent cache, absorbed).
/// </summary>
public static class GenerationJob
{
    public static GenerationPlan Plan(GenerationJobOptions options)
    {
        if ((options.Prompt is null) == (options.PromptsFile is null)) throw new InvalidInputException("generate needs exactly one of --prompt TEXT or --prompts FILE");
        if (options.Batch < 1) throw new InvalidInputException($"--batch must be at least 1, not {options.Batch}");
        var file = options.PromptsFile;
        var preTokenized = file is not null && file.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
        var texts = preTokenized ? [] : ReadPrompts(options.Prompt, file);
        var checkpoint = Checkpoint.Open(options.Model);
        try
        {
            var vocab = checkpoint.Config.VocabSize;
            var tokenizer = preTokenized ? null : checkpoint.LoadTokenizer();
            var ids = preTokenized
                ? Data.SequenceReader.Read(new Data.DataOptions { Path = file! }, null, vocab).ToList()
                : texts.Select(t => tokenizer!.EncodeIds(t)).ToList();
            if (ids.Count == 0) throw new InvalidInputException($"--prompts {file}: holds no prompts");
            if (preTokenized) texts = ids.Select(_ => "").ToList();
            for (var i = 0; i < ids.Count; i++)
            {
                if (ids[i].Length == 0) throw new InvalidInputException($"prompt {i} encodes to no tokens; give it some text");
                // A tokenizer's added tokens may lie past the embedding table (eval and train refuse them the same way).
                if (ids[i].FirstOrDefault(id => id < 0 || id >= vocab, -1) is var bad and >= 0)
                    throw new InvalidInputException($"prompt {i} holds token id {bad}, outside the model's vocabulary (0..{vocab - 1}); is tokenizer.json from the same model as the weights?");
            }
            var decoding = new GenerationOptions
            {
                MaxNewTokens = options.MaxNewTokens,
                Sampling = options.Sampling,
                Cache = options.Cache ?? CacheFormat.F32,
                Absorb = options.Absorb,
                Eos = EosTokens.Read(checkpoint.Directory, vocab),
            };
            decoding.Check(checkpoint.Config, ids);
            return new GenerationPlan(checkpoint, tokenizer, texts, ids, decoding, options with { ComputeType = ComputePrecision.Resolve(options.ComputeType, options.Device) });
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    private static List<string> ReadPrompts(string? prompt, string? file)
    {
        if (prompt is not null)
            return prompt.Length > 0 ? [prompt] : throw new InvalidInputException("--prompt is empty; give the text to continue");
        var texts = new List<string>();
        var lines = UserFiles.ReadText(file!, $"--prompts {file}").Split('\n');
        foreach (var (line, number) in lines.Select((l, i) => (l, i + 1)).Where(x => x.l.Trim().Length > 0))
        {
            try
            {
                using var document = JsonDocument.Parse(line);
                var root = document.RootElement;
                var text = root.ValueKind == JsonValueKind.Object && (root.TryGetProperty("prompt", out var p) || root.TryGetProperty("text", out p)) && p.ValueKind == JsonValueKind.String
                    ? p.GetString()! : throw new InvalidInputException($"--prompts {file}: line {number} has no \"prompt\" (or \"text\") string");
                texts.Add(text);
            }
            catch (JsonException e)
            {
                throw new InvalidInputException($"--prompts {file}: line {number} is not JSON ({e.Message.Split('\n')[0]})");
            }
        }
        if (texts.Count == 0) throw new InvalidInputException($"--prompts {file}: holds no prompts");
        if (texts.IndexOf("") is var empty and >= 0) throw new InvalidInputException($"--prompts {file}: prompt {empty} is empty");
        return texts;
    }
}

/// <summary>A generation ready to run: the open checkpoint, the tokenized prompts and the decoding settings.</summary>
public sealed class GenerationPlan(Checkpoint checkpoint, Tokenizer? tokenizer, IReadOnlyList<string> texts, IReadOnlyList<int[]> ids,
    GenerationOptions decoding, GenerationJobOptions options) : IDisposable
{
    /// <summary>The prompts' text ("" for pre-tokenized prompts).</summary>
    public IReadOnlyList<string> Prompts { get; } = texts;

    /// <summary>What was asked, with the compute dtype resolved.</summary>
    public GenerationJobOptions Options { get; } = options;

    /// <summary>How each batch is decoded, checked for this model and these prompts.</summary>
    public GenerationOptions Decoding { get; } = decoding;

    /// <summary>Whether the text can be shown as it is produced: one prompt, with a tokenizer to decode it.</summary>
    public bool CanStream => Prompts.Count == 1 && tokenizer is not null;

    /// <param name="onText">With <see cref="CanStream"/>: each piece of new text as it is decoded.</param>
    public GenerationReport Run(Action<string>? onText = null, Action<string>? log = null)
    {
        var dtype = Options.ComputeType!.Value;
        using var model = LlamaModel.Load(checkpoint.Weights, checkpoint.Config, Options.Device, dtype);
        var completions = new List<string>();
        var results = new List<GenerationResult>();
        for (var start = 0; start < ids.Count; start += Options.Batch)
        {
            var chunk = ids.Skip(start).Take(Options.Batch).ToList();
            var (shown, soFar) = ("", new List<int>());
            var result = Generator.Generate(model, chunk, Decoding, (_, token) =>
            {
                if (onText is null || !CanStream) return;
                // Decoding the whole completion each time keeps multi-token characters whole.
                soFar.Add(token);
                var text = tokenizer!.Decode(soFar);
                if (text.StartsWith(shown, StringComparison.Ordinal)) onText(text[shown.Length..]);
                shown = text;
            });
            results.Add(result);
            completions.AddRange(result.Tokens.Select(t => tokenizer?.Decode(t) ?? string.Join(' ', t)));
        }
        var generated = results.Sum(r => r.GeneratedTokens);
        var decodeSeconds = results.Sum(r => r.DecodeSeconds);
        var report = new GenerationReport(completions, results.Sum(r => r.PromptTokens), generated, results.Sum(r => r.PrefillSeconds),
            decodeSeconds > 0 ? generated / decodeSeconds : 0, results.Max(r => r.KvCacheBytes), results[0].KvCacheBytesPerToken, Decoding.Cache.Name);
        log?.Invoke($"{generated} tokens; prefill {report.PrefillSeconds:F2} s, decode {report.DecodeTokensPerSecond:F1} tokens/s; " +
                    $"KV cache {report.KvCacheBytes:N0} bytes ({report.KvCacheBytesPerToken:F1} per token)");
        return report;
    }

    public void Dispose() => checkpoint.Dispose();
}
