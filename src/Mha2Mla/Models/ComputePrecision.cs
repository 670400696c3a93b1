namespace Mha2Mla.Models;

/// <summary>
/// The dtype a model computes in (--dtype). Inference loads the weights in it, as transformers'
/// torch_dtype does; training and a conversion's in-memory model keep fp32 weights (and optimizer
/// state) and compute under autocast. Norms, softmax and the loss run in fp32 either way.
/// </summary>
public static class ComputePrecision
{
    /// <summary>bf16 on CUDA (what its tensor cores are for), fp32 on CPU (where bf16 is slower, not faster).</summary>
    public static ScalarType DefaultFor(Device device) => device.type == DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32;

    /// <summary>Autocast to <paramref name="dtype"/> on the device; nothing for fp32.</summary>
    public static IDisposable? Autocast(Device device, ScalarType dtype) =>
        dtype == ScalarType.Float32 ? null : torch.amp.autocast(device.type, dtype);

    /// <summary>
    /// <paramref name="dtype"/>, or the device's default; refuses, before any work, f16 on CPU
    /// (libtorch's CPU kernels and CPU autocast have no f16 matmul).
    /// </summary>
    public static ScalarType Resolve(ScalarType? dtype, Device device)
    {
        var resolved = dtype ?? DefaultFor(device);
        if (resolved == ScalarType.Float16 && device.type == DeviceType.CPU)
            throw new InvalidInputException("--dtype f16: on CPU mha2mla computes in bf16 or f32 only (libtorch has no f16 matmul there); use --dtype bf16 or f32, or --device cuda");
        return resolved;
    }

    /// <summary>bf16, f16 or f32.</summary>
    public static string Name(ScalarType dtype) => dtype switch
    {
        ScalarType.BFloat16 => "bf16",
        ScalarType.Float16 => "f16",
        _ => "f32",
    };
}
