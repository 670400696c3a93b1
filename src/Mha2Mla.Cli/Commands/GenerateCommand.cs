using System.CommandLine;
using System.Text.Json;
using Mha2Mla.Decoding;
using Mha2Mla.Diagnostics;
using Mha2Mla.Models;
using Serilog;
using Mha2Mla.Checkpoints;

namespace Mha2Mla.Cli.Commands;

/// <summary>`mha2mla generate MODEL --prompt TEXT`: decode with a KV cache (MLA: the latent cache, absorbed).</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "A checkpoint directory (original or MLA), a hub id in the local hub cache, or 'demo'" };
        var prompt = new Option<string?>("--prompt") { Description = "The text to continue" };
        var prompts = new Option<string?>("--prompts")
        {
            Description = "A .jsonl file of prompts, one {\"prompt\": TEXT} (or \"text\") per line; or a .json array of arrays of token ids",
        };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Tokens to generate per prompt (fewer if EOS comes first)", DefaultValueFactory = _ => 64 };
        var temperature = new Option<double>("--temperature") { Description = "0: greedy; above 0: sample", DefaultValueFactory = _ => 0 };
        var topK = new Option<int>("--top-k") { Description = "Sample from the k most likely tokens only (0: all)", DefaultValueFactory = _ => 0 };
        var topP = new Option<double>("--top-p") { Description = "Sample from the smallest set of tokens whose probability reaches p", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<int>("--seed") { Description = "Seed for sampling", DefaultValueFactory = _ => 0 };
        var batch = new Option<int>("--batch") { Description = "Prompts decoded together (left-padded; each keeps its own positions)", DefaultValueFactory = _ => 8 };
        var expanded = new Option<bool>("--expanded") { Description = "MLA: rebuild keys and values from the cached latent at every step instead of the absorbed form (same tokens, slower)" };
        var cache = new CacheOptions();
        var dtype = DTypeOptions.Compute(DTypeOptions.InferenceCompute);

        var command = new Command("generate",
            "Generate text with a KV cache. For an MLA model the cache holds only the latent c_kv and the rotated keys of the kept RoPE pairs, " +
            "and decoding absorbs W_up_k into the query and W_up_v into the output (docs/design.md, Absorbed decoding). Prints text as it is produced " +
            "(--json: one object with the completions, token counts, prefill time, decode tokens/s and the cache's bytes).")
        {
            model, prompt, prompts, maxNew, temperature, topK, topP, seed, batch, expanded, CommonOptions.Device, dtype,
        };
        foreach (var option in cache.All) command.Options.Add(option);

        command.SetAction(parsed =>
        {
            Runtime.UseThreads(parsed.GetValue(CommonOptions.Threads));
            Runtime.KeepFreedBuffersForReuse();
            var device = Runtime.ResolveDevice(parsed.GetValue(CommonOptions.Device)!);
            var (promptText, promptFile) = (parsed.GetValue(prompt), parsed.GetValue(prompts));
            if ((promptText is null) == (promptFile is null)) throw new InvalidInputException("generate needs exactly one of --prompt TEXT or --prompts FILE");
            var preTokenized = promptFile is not null && promptFile.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
            var texts = preTokenized ? [] : ReadPrompts(promptText, promptFile);
            var batchSize = parsed.GetValue(batch);
            if (batchSize < 1) throw new InvalidInputException($"--batch must be at least 1, not {batchSize}");
            using var checkpoint = Checkpoint.Open(parsed.GetRequiredValue(model));
            var tokenizer = preTokenized ? null : checkpoint.LoadTokenizer();
            var options = new GenerationOptions
            {
                MaxNewTokens = parsed.GetValue(maxNew),
                Sampling = new SamplingOptions(parsed.GetValue(temperature), parsed.GetValue(topK), parsed.GetValue(topP), parsed.GetValue(seed)),
                Cache = cache.Read(parsed) ?? CacheFormat.F32,
                Absorb = !parsed.GetValue(expanded),
                Eos = EosTokens.Read(checkpoint.Directory, checkpoint.Config.VocabSize),
            };
            var ids = preTokenized
                ? Data.SequenceReader.Read(new Data.DataOptions { Path = promptFile! }, null, checkpoint.Config.VocabSize).ToList()
                : texts.Select(t => tokenizer!.EncodeIds(t)).ToList();
            if (ids.Count == 0) throw new InvalidInputException($"--prompts {promptFile}: holds no prompts");
            if (preTokenized) texts = ids.Select(_ => "").ToList();
            for (var i = 0; i < ids.Count; i++)
            {
                if (ids[i].Length == 0) throw new InvalidInputException($"prompt {i} encodes to no tokens; give it some text");
                // A tokenizer's added tokens may lie past the embedding table (eval and train refuse them the same way).
                if (ids[i].FirstOrDefault(id => id < 0 || id >= checkpoint.Config.VocabSize, -1) is var bad and >= 0)
                    throw new InvalidInputException($"prompt {i} holds token id {bad}, outside the model's vocabulary (0..{checkpoint.Config.VocabSize - 1}); is tokenizer.json from the same model as the weights?");
            }
            using var llama = LlamaModel.Load(checkpoint.Weights, checkpoint.Config, device, ComputePrecision.Resolve(DTypeOptions.Parse(parsed.GetValue(dtype)), device));
            var json = parsed.GetValue(CommonOptions.Json);
            var stream = !json && texts.Count == 1 && tokenizer is not null;

            var completions = new List<string>();
            var results = new List<GenerationResult>();
            for (var start = 0; start < ids.Count; start += batchSize)
            {
                var chunk = ids.Skip(start).Take(batchSize).ToList();
                var shown = "";
                var soFar = new List<int>();
                var result = Generator.Generate(llama, chunk, options, (_, token) =>
                {
                    if (!stream) return;
                    soFar.Add(token);
                    var text = tokenizer!.Decode(soFar);
                    if (text.StartsWith(shown, StringComparison.Ordinal)) Console.Write(text[shown.Length..]);
                    shown = text;
                });
                results.Add(result);
                completions.AddRange(result.Tokens.Select(t => tokenizer?.Decode(t) ?? string.Join(' ', t)));
            }
            if (stream) Console.WriteLine();
            else if (!json)
                for (var i = 0; i < texts.Count; i++) Console.WriteLine($"--- {i}\n{texts[i]}{completions[i]}");

            var generated = results.Sum(r => r.GeneratedTokens);
            var decodeSeconds = results.Sum(r => r.DecodeSeconds);
            Log.Information("{Generated} tokens; prefill {Prefill:F2} s, decode {Rate:F1} tokens/s; KV cache {Bytes:N0} bytes ({PerToken:F1} per token)",
                generated, results.Sum(r => r.PrefillSeconds), decodeSeconds > 0 ? generated / decodeSeconds : 0, results.Max(r => r.KvCacheBytes), results[0].KvCacheBytesPerToken);
            if (json)
                JsonOutput.Write(new
                {
                    completions,
                    prompt_tokens = results.Sum(r => r.PromptTokens),
                    generated_tokens = generated,
                    prefill_seconds = results.Sum(r => r.PrefillSeconds),
                    decode_tokens_per_second = decodeSeconds > 0 ? generated / decodeSeconds : 0,
                    kv_cache_bytes = results.Max(r => r.KvCacheBytes),
                    kv_cache_bytes_per_token = results[0].KvCacheBytesPerToken,
                    kv_cache_dtype = options.Cache.Name,
                });
            return ExitCodes.Success;
        });
        return command;
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
