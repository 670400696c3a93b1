namespace Mha2Mla.Storage;

/// <summary>The safetensors dtype names and which of them mha2mla reads.</summary>
public static class SafetensorsDType
{
    // Every dtype the safetensors format defines, so "unknown" and "unsupported" can be told apart.
    private static readonly HashSet<string> Known =
        ["BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"];

    public static bool IsKnown(string name) => Known.Contains(name);

    public static bool TryParse(string name, out ScalarType type)
    {
        switch (name)
        {
            case "F32": type = ScalarType.Float32; return true;
            case "F16": type = ScalarType.Float16; return true;
            case "BF16": type = ScalarType.BFloat16; return true;
            default: type = default; return false;
        }
    }

    public static string Name(ScalarType type) => type switch
    {
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        _ => throw new ArgumentException($"mha2mla writes F32, F16 or BF16, not {type}"),
    };
}
