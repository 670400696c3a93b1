namespace Mha2Mla.Torch;

/// <summary>An error raised inside libtorch, carrying libtorch's own message.</summary>
public sealed class TorchException(string message) : Exception(message)
{
    internal static TorchException FromNative()
    {
        var text = System.Runtime.InteropServices.Marshal.PtrToStringUTF8(NativeMethods.mm_last_error());
        NativeMethods.mm_clear_error();
        return new TorchException(string.IsNullOrWhiteSpace(text) ? "libtorch reported an error without a message" : text.Trim());
    }

    /// <summary>libtorch could not allocate: CPU ("can't allocate memory") or CUDA ("CUDA out of memory").</summary>
    public bool IsOutOfMemory =>
        Message.Contains("can't allocate memory", StringComparison.Ordinal) || Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase);

    /// <summary>Throws when a status-returning native call reported failure.</summary>
    internal static void Check(int status)
    {
        if (status < 0) throw FromNative();
    }
}
