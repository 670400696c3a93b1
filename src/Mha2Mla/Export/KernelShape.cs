namespace Mha2Mla.Export;

/// <summary>
/// The fixed attention shape a serving engine's fast MLA kernel takes (export --shape): FlashMLA's
/// latent of 512 beside a 64-wide rope head, which FlashInfer's MLA and TensorRT-LLM's (SGLang)
/// take too. An export padded to it computes what the unpadded one does (<see cref="DeepSeekV3Layout"/>).
/// </summary>
/// <param name="KvLoraRank">The latent width the kernel takes.</param>
/// <param name="QkRopeHeadDim">The rope head width it takes.</param>
public sealed record KernelShape(string Name, int KvLoraRank, int QkRopeHeadDim)
{
    public static readonly KernelShape FlashMla = new("flashmla", 512, 64);

    public static readonly KernelShape[] All = [FlashMla];

    public static KernelShape Parse(string name) => All.FirstOrDefault(s => s.Name == name)
        ?? throw new InvalidInputException($"--shape '{name}' is not one of {string.Join(", ", All.Select(s => s.Name))}");
}
