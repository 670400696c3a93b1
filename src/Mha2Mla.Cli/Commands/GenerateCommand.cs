using Mha2Mla.Decoding;

namespace Mha2Mla.Cli.Commands;

/// <summary>`mha2mla generate MODEL --prompt TEXT`: decoding with a KV cache, through <see cref="GenerationJob"/>.</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "A checkpoint directory (original or MLA), a hub id in the local hub cache, or 'demo'" };
        var prompt = new Option<string?>("--prompt") { Description = "The text to continue" };
        var prompts = new Option<string?>("--prompts") { Description = "A .jsonl file of prompts, one {\"prompt\": TEXT} (or \"text\") per line; or a .json array of arrays of token ids" };
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
            using var plan = GenerationJob.Plan(new GenerationJobOptions
            {
                Model = parsed.GetRequiredValue(model), Prompt = parsed.GetValue(prompt), PromptsFile = parsed.GetValue(prompts),
                MaxNewTokens = parsed.GetValue(maxNew), Batch = parsed.GetValue(batch), Absorb = !parsed.GetValue(expanded),
                Sampling = new SamplingOptions(parsed.GetValue(temperature), parsed.GetValue(topK), parsed.GetValue(topP), parsed.GetValue(seed)),
                Cache = cache.Read(parsed), Device = Runtime.ResolveDevice(parsed.GetValue(CommonOptions.Device)!), ComputeType = DTypeOptions.Parse(parsed.GetValue(dtype)),
            });
            var json = parsed.GetValue(CommonOptions.Json);
            var stream = !json && plan.CanStream;
            var report = plan.Run(stream ? Console.Write : null, message => Log.Information("{Message}", message));
            if (json) JsonOutput.Write(report);
            else if (stream) Console.WriteLine();
            else for (var i = 0; i < plan.Prompts.Count; i++) Console.WriteLine($"--- {i}\n{plan.Prompts[i]}{report.Completions[i]}");
            return ExitCodes.Success;
        });
        return command;
    }
}
