using System.Reflection;
using System.Runtime.InteropServices;

namespace Mha2Mla.Torch;

/// <summary>
/// The entry points of libmha2mla_native (src/Mha2Mla.Native/include/mha2mla_native.h).
/// Tensor arguments are passed as <see cref="Tensor"/> so the marshaller keeps the handle
/// alive for the call; tensor results come back as raw pointers and are wrapped by
/// <see cref="Tensor.Wrap"/>, which also turns a NULL into a <see cref="TorchException"/>.
/// </summary>
internal static class NativeMethods
{
    private const string Lib = "mha2mla_native";

    static NativeMethods()
    {
        // MHA2MLA_NATIVE_LIB points at another build of the native library, for example one
        // built against a CUDA libtorch; otherwise the copy next to this assembly is used.
        NativeLibrary.SetDllImportResolver(typeof(NativeMethods).Assembly, Resolve);
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Lib) return IntPtr.Zero;
        var overridePath = Environment.GetEnvironmentVariable("MHA2MLA_NATIVE_LIB");
        if (!string.IsNullOrEmpty(overridePath)) return NativeLibrary.Load(overridePath);
        var besideUs = Path.Combine(AppContext.BaseDirectory, "libmha2mla_native.so");
        if (File.Exists(besideUs)) return NativeLibrary.Load(besideUs);
        return IntPtr.Zero;
    }

    // errors and engine
    [DllImport(Lib)] internal static extern IntPtr mm_last_error();
    [DllImport(Lib)] internal static extern void mm_clear_error();
    [DllImport(Lib)] internal static extern IntPtr mm_torch_version();
    [DllImport(Lib)] internal static extern IntPtr mm_build_config();
    [DllImport(Lib)] internal static extern int mm_set_num_threads(int n);
    [DllImport(Lib)] internal static extern int mm_get_num_threads();
    [DllImport(Lib)] internal static extern int mm_cuda_is_available();
    [DllImport(Lib)] internal static extern int mm_cuda_device_count();
    [DllImport(Lib)] internal static extern int mm_cuda_device_properties(int index, byte[] name, int nameCapacity, out int major, out int minor, out long totalMemory);
    [DllImport(Lib)] internal static extern long mm_cuda_peak_allocated(int index);
    [DllImport(Lib)] internal static extern int mm_cuda_reset_peak(int index);
    [DllImport(Lib)] internal static extern int mm_cuda_empty_cache();
    [DllImport(Lib)] internal static extern long mm_cuda_runtime_version();
    [DllImport(Lib)] internal static extern long mm_cudnn_version();
    [DllImport(Lib)] internal static extern int mm_sdp_kernel_enabled(int kind);
    [DllImport(Lib)] internal static extern int mm_manual_seed(ulong seed);
    [DllImport(Lib)] internal static extern int mm_set_grad_enabled(int enabled);
    [DllImport(Lib)] internal static extern long mm_live_tensors();

    // creation
    [DllImport(Lib)] internal static extern void mm_free(IntPtr t);
    [DllImport(Lib)] internal static extern unsafe IntPtr mm_from_buffer(void* data, long[] shape, int ndim, int srcDtype, int dstDtype);
    [DllImport(Lib)] internal static extern IntPtr mm_zeros(long[] shape, int ndim, int dtype, int devType, int devIndex);
    [DllImport(Lib)] internal static extern IntPtr mm_ones(long[] shape, int ndim, int dtype, int devType, int devIndex);
    [DllImport(Lib)] internal static extern IntPtr mm_randn(long[] shape, int ndim, int dtype, int devType, int devIndex);
    [DllImport(Lib)] internal static extern IntPtr mm_eye(long n, int dtype, int devType, int devIndex);
    [DllImport(Lib)] internal static extern IntPtr mm_arange(double start, double end, double step, int dtype, int devType, int devIndex);

    // facts
    [DllImport(Lib)] internal static extern int mm_dim(Tensor t);
    [DllImport(Lib)] internal static extern int mm_shape(Tensor t, long[] output, int capacity);
    [DllImport(Lib)] internal static extern int mm_dtype(Tensor t);
    [DllImport(Lib)] internal static extern int mm_device_type(Tensor t);
    [DllImport(Lib)] internal static extern int mm_device_index(Tensor t);
    [DllImport(Lib)] internal static extern long mm_numel(Tensor t);
    [DllImport(Lib)] internal static extern int mm_requires_grad(Tensor t);
    [DllImport(Lib)] internal static extern unsafe int mm_copy_to_buffer(Tensor t, int dtype, void* output, long nbytes);
    [DllImport(Lib)] internal static extern int mm_item_double(Tensor t, out double value);
    [DllImport(Lib)] internal static extern IntPtr mm_data_ptr(Tensor t);

    // conversion and layout
    [DllImport(Lib)] internal static extern IntPtr mm_to(Tensor t, int dtype, int devType, int devIndex);
    [DllImport(Lib)] internal static extern IntPtr mm_contiguous(Tensor t);
    [DllImport(Lib)] internal static extern IntPtr mm_clone(Tensor t);
    [DllImport(Lib)] internal static extern IntPtr mm_reshape(Tensor t, long[] shape, int ndim);
    [DllImport(Lib)] internal static extern IntPtr mm_view(Tensor t, long[] shape, int ndim);
    [DllImport(Lib)] internal static extern IntPtr mm_transpose(Tensor t, long d0, long d1);
    [DllImport(Lib)] internal static extern IntPtr mm_narrow(Tensor t, long dim, long start, long length);
    [DllImport(Lib)] internal static extern IntPtr mm_select(Tensor t, long dim, long index);
    [DllImport(Lib)] internal static extern IntPtr mm_unsqueeze(Tensor t, long dim);
    [DllImport(Lib)] internal static extern IntPtr mm_expand(Tensor t, long[] shape, int ndim);
    [DllImport(Lib)] internal static extern IntPtr mm_cat(IntPtr[] tensors, int n, long dim);
    [DllImport(Lib)] internal static extern IntPtr mm_index_select(Tensor t, long dim, Tensor index);

    // arithmetic
    [DllImport(Lib)] internal static extern IntPtr mm_add(Tensor a, Tensor b);
    [DllImport(Lib)] internal static extern IntPtr mm_sub(Tensor a, Tensor b);
    [DllImport(Lib)] internal static extern IntPtr mm_mul(Tensor a, Tensor b);
    [DllImport(Lib)] internal static extern IntPtr mm_div(Tensor a, Tensor b);
    [DllImport(Lib)] internal static extern IntPtr mm_add_scalar(Tensor a, double s);
    [DllImport(Lib)] internal static extern IntPtr mm_mul_scalar(Tensor a, double s);
    [DllImport(Lib)] internal static extern IntPtr mm_pow_scalar(Tensor a, double s);
    [DllImport(Lib)] internal static extern IntPtr mm_matmul(Tensor a, Tensor b);
    [DllImport(Lib)] internal static extern IntPtr mm_outer(Tensor a, Tensor b);
    [DllImport(Lib)] internal static extern IntPtr mm_neg(Tensor a);
    [DllImport(Lib)] internal static extern IntPtr mm_sqrt(Tensor a);
    [DllImport(Lib)] internal static extern IntPtr mm_rsqrt(Tensor a);
    [DllImport(Lib)] internal static extern IntPtr mm_sin(Tensor a);
    [DllImport(Lib)] internal static extern IntPtr mm_cos(Tensor a);
    [DllImport(Lib)] internal static extern IntPtr mm_mean(Tensor a, long[] dims, int ndims, int keepdim);
    [DllImport(Lib)] internal static extern IntPtr mm_sum(Tensor a, long[] dims, int ndims, int keepdim);

    // in place
    [DllImport(Lib)] internal static extern int mm_add_(Tensor a, Tensor b);
    [DllImport(Lib)] internal static extern int mm_mul_(Tensor a, Tensor b);
    [DllImport(Lib)] internal static extern int mm_mul_scalar_(Tensor a, double s);
    [DllImport(Lib)] internal static extern int mm_masked_fill_(Tensor a, Tensor mask, double value);

    // autograd and optimization
    [DllImport(Lib)] internal static extern int mm_set_requires_grad(Tensor t, int requiresGrad);
    [DllImport(Lib)] internal static extern int mm_backward(Tensor loss);
    [DllImport(Lib)] internal static extern int mm_has_grad(Tensor t);
    [DllImport(Lib)] internal static extern IntPtr mm_grad(Tensor t);
    [DllImport(Lib)] internal static extern int mm_zero_grad(Tensor t);
    [DllImport(Lib)] internal static extern int mm_copy_(Tensor dst, Tensor src);
    [DllImport(Lib)] internal static extern int mm_adamw_step(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq,
        long step, double lr, double beta1, double beta2, double eps, double weightDecay);
    [DllImport(Lib)] internal static extern int mm_set_autocast(int devType, int enabled, int dtype);
    [DllImport(Lib)] internal static extern IntPtr mm_cholesky(Tensor a);
    [DllImport(Lib)] internal static extern IntPtr mm_solve_triangular(Tensor a, Tensor b, int upper, int left);
    [DllImport(Lib)] internal static extern int mm_svd(Tensor a, out IntPtr u, out IntPtr s, out IntPtr vh);

    // neural-network functions
    [DllImport(Lib)] internal static extern IntPtr mm_linear(Tensor x, Tensor weight, IntPtr bias);
    [DllImport(Lib)] internal static extern IntPtr mm_silu(Tensor x);
    [DllImport(Lib)] internal static extern IntPtr mm_softmax(Tensor x, long dim);
    [DllImport(Lib)] internal static extern IntPtr mm_scaled_dot_product_attention(Tensor q, Tensor k, Tensor v, IntPtr allowed, int isCausal);
    [DllImport(Lib)] internal static extern int mm_sdpa_is_fused();
    [DllImport(Lib)] internal static extern IntPtr mm_embedding(Tensor weight, Tensor ids);
    [DllImport(Lib)] internal static extern IntPtr mm_abs(Tensor a);
    [DllImport(Lib)] internal static extern IntPtr mm_round(Tensor a);
    [DllImport(Lib)] internal static extern IntPtr mm_floor(Tensor a);
    [DllImport(Lib)] internal static extern IntPtr mm_clamp(Tensor a, double min, double max);
    [DllImport(Lib)] internal static extern IntPtr mm_amax(Tensor a, long dim, int keepdim);
    [DllImport(Lib)] internal static extern IntPtr mm_triu(Tensor a, long diagonal);
    [DllImport(Lib)] internal static extern IntPtr mm_tril(Tensor a, long diagonal);
    [DllImport(Lib)] internal static extern IntPtr mm_logical_or(Tensor a, Tensor b);
    [DllImport(Lib)] internal static extern IntPtr mm_logical_and(Tensor a, Tensor b);
    [DllImport(Lib)] internal static extern IntPtr mm_logical_not(Tensor a);
    [DllImport(Lib)] internal static extern IntPtr mm_cross_entropy(Tensor logits, Tensor targets, int reduction);
}
