using Mha2Mla.Models;

namespace Mha2Mla.Cli;

/// <summary>--kv-cache-dtype and --kv-group-size: how a KV cache stores keys and values (or MLA latents).</summary>
public sealed class CacheOptions
{
    public Option<string?> DType { get; } = new("--kv-cache-dtype")
    {
        Description = "Store the KV cache (MLA: the latent and the rotated keys) as f32, bf16, f16, int8 or int4 " +
                      "(int8/int4: symmetric, one fp32 scale per token per group; int4 packs two values a byte)",
    };
    public Option<int> GroupSize { get; } = new("--kv-group-size") { Description = "Elements per quantization scale (int8/int4)", DefaultValueFactory = _ => 32 };

    public CacheOptions() => DType.AcceptOnlyFromAmong(CacheFormat.Names);

    public IEnumerable<Option> All => [DType, GroupSize];

    /// <summary>The chosen format, or null when --kv-cache-dtype was not given.</summary>
    public CacheFormat? Read(ParseResult parsed) =>
        parsed.GetValue(DType) is { } name ? CacheFormat.Parse(name, parsed.GetValue(GroupSize)) : null;
}
