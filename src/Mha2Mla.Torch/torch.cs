namespace Mha2Mla.Torch;

/// <summary>The engine's entry points, named as in TorchSharp (<c>torch.zeros</c>, <c>torch.cat</c>, ...).</summary>
public static partial class torch
{
    public static string __version__ => Marshal(NativeMethods.mm_torch_version());

    /// <summary>libtorch's own account of how it was built: BLAS, LAPACK, CPU capability, CUDA.</summary>
    public static string build_config => Marshal(NativeMethods.mm_build_config());

    public static void set_num_threads(int threads) => TorchException.Check(NativeMethods.mm_set_num_threads(threads));
    public static int get_num_threads() => NativeMethods.mm_get_num_threads();
    public static void manual_seed(ulong seed) => TorchException.Check(NativeMethods.mm_manual_seed(seed));

    /// <summary>Native tensors alive right now (created and not yet freed), for leak tests.</summary>
    public static long live_tensors => NativeMethods.mm_live_tensors();

    public static DisposeScope NewDisposeScope() => new();

    /// <summary>Turns autograd off on this thread until disposed.</summary>
    public static IDisposable no_grad() => new GradMode(false);

    private sealed class GradMode : IDisposable
    {
        private readonly int previous;
        public GradMode(bool enabled) => previous = NativeMethods.mm_set_grad_enabled(enabled ? 1 : 0);
        public void Dispose() => NativeMethods.mm_set_grad_enabled(previous);
    }

    public static class cuda
    {
        public static bool is_available() => NativeMethods.mm_cuda_is_available() == 1;
        public static int device_count() => NativeMethods.mm_cuda_device_count();

        /// <summary>A GPU's name, compute capability and memory, as torch.cuda.get_device_properties.</summary>
        public sealed record DeviceProperties(string name, int major, int minor, long total_memory);

        public static DeviceProperties get_device_properties(int index)
        {
            var name = new byte[256];
            if (NativeMethods.mm_cuda_device_properties(index, name, name.Length, out var major, out var minor, out var memory) != 0)
                throw TorchException.FromNative();
            return new DeviceProperties(System.Text.Encoding.UTF8.GetString(name, 0, Array.IndexOf(name, (byte)0)), major, minor, memory);
        }

        /// <summary>Peak bytes libtorch allocated on the device since <see cref="reset_peak_memory_stats"/>.</summary>
        public static long max_memory_allocated(int index)
        {
            var bytes = NativeMethods.mm_cuda_peak_allocated(index);
            return bytes >= 0 ? bytes : throw TorchException.FromNative();
        }

        public static void reset_peak_memory_stats(int index)
        {
            if (NativeMethods.mm_cuda_reset_peak(index) != 0) throw TorchException.FromNative();
        }

        /// <summary>Returns the caching allocator's unused blocks to the driver.</summary>
        public static void empty_cache() => NativeMethods.mm_cuda_empty_cache();
    }

    public static class version
    {
        /// <summary>The CUDA runtime libtorch runs, e.g. "13.0" (CUDART_VERSION 13000 = major·1000 + minor·10), or null without CUDA.</summary>
        public static string? cuda
        {
            get
            {
                var v = NativeMethods.mm_cuda_runtime_version();
                NativeMethods.mm_clear_error();
                return v > 0 ? $"{v / 1000}.{v % 1000 / 10}" : null;
            }
        }
    }

    public static class backends
    {
        public static class cudnn
        {
            /// <summary>cuDNN's version number as PyTorch reports it (91000 for 9.10.0, 8902 for 8.9.2), or null without it.</summary>
            public static long? version()
            {
                var v = NativeMethods.mm_cudnn_version();
                NativeMethods.mm_clear_error();
                return v > 0 ? v : null;
            }
        }

        public static class cuda
        {
            /// <summary>libtorch's switch for the flash-attention SDPA kernel (false before 2.0, which has none).</summary>
            public static bool flash_sdp_enabled() => NativeMethods.mm_sdp_kernel_enabled(0) == 1;
            /// <summary>libtorch's switch for the memory-efficient SDPA kernel (false before 2.0).</summary>
            public static bool mem_efficient_sdp_enabled() => NativeMethods.mm_sdp_kernel_enabled(1) == 1;
        }
    }

    // ---- factories ------------------------------------------------------------------------

    public static Tensor zeros(long[] shape, ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        Tensor.Wrap(NativeMethods.mm_zeros(shape, shape.Length, (int)dtype, DevType(device), DevIndex(device)));

    public static Tensor ones(long[] shape, ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        Tensor.Wrap(NativeMethods.mm_ones(shape, shape.Length, (int)dtype, DevType(device), DevIndex(device)));

    public static Tensor randn(long[] shape, ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        Tensor.Wrap(NativeMethods.mm_randn(shape, shape.Length, (int)dtype, DevType(device), DevIndex(device)));

    public static Tensor eye(long n, ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        Tensor.Wrap(NativeMethods.mm_eye(n, (int)dtype, DevType(device), DevIndex(device)));

    public static Tensor arange(double start, double end, double step = 1, ScalarType dtype = ScalarType.Int64, Device? device = null) =>
        Tensor.Wrap(NativeMethods.mm_arange(start, end, step, (int)dtype, DevType(device), DevIndex(device)));

    /// <summary>A CPU tensor holding a copy of <paramref name="values"/>.</summary>
    public static unsafe Tensor tensor<T>(ReadOnlySpan<T> values, long[] shape) where T : unmanaged
    {
        long count = 1;
        foreach (var d in shape) count *= d;
        if (count != values.Length)
            throw new ArgumentException($"{values.Length} values do not fill shape [{string.Join(", ", shape)}]");
        fixed (T* p = values)
            return Tensor.Wrap(NativeMethods.mm_from_buffer(p, shape, shape.Length, (int)Tensor.ScalarTypeOf<T>(), (int)Tensor.ScalarTypeOf<T>()));
    }

    public static Tensor tensor<T>(T[] values) where T : unmanaged => tensor<T>(values, [values.Length]);

    /// <summary>
    /// A CPU tensor of <paramref name="resultType"/> copied from raw memory holding
    /// <paramref name="sourceType"/> elements (for example a memory-mapped safetensors region);
    /// the caller's memory is not referenced afterwards.
    /// </summary>
    public static unsafe Tensor from_buffer(void* data, long[] shape, ScalarType sourceType, ScalarType resultType) =>
        Tensor.Wrap(NativeMethods.mm_from_buffer(data, shape, shape.Length, (int)sourceType, (int)resultType));

    public static Tensor cat(IReadOnlyList<Tensor> tensors, long dim)
    {
        var handles = new IntPtr[tensors.Count];
        for (var i = 0; i < handles.Length; i++) handles[i] = tensors[i].DangerousGetHandle();
        var result = NativeMethods.mm_cat(handles, handles.Length, dim);
        GC.KeepAlive(tensors);
        return Tensor.Wrap(result);
    }

    public static Tensor matmul(Tensor a, Tensor b) => a.matmul(b);
    public static Tensor outer(Tensor a, Tensor b) => Tensor.Wrap(NativeMethods.mm_outer(a, b));

    private static int DevType(Device? device) => (int)(device ?? Device.CPU).type;
    private static int DevIndex(Device? device) => (device ?? Device.CPU).index;

    private static string Marshal(IntPtr text) => System.Runtime.InteropServices.Marshal.PtrToStringUTF8(text) ?? "";
}
