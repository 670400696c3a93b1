using System.Diagnostics;

namespace Mha2Mla.Diagnostics;

/// <summary>What `mha2mla doctor` reports: the engine as it actually runs on this machine.</summary>
public sealed record EngineReport(
    string TorchVersion,
    string TorchLibrary,
    string NativeLibrary,
    int Threads,
    string BlasLibrary,
    string CpuCapability,
    double GemmGflops,
    int GemmSize,
    string Attention,
    bool CudaAvailable,
    int CudaDevices,
    string? CudaRuntime,
    string? Cudnn,
    IReadOnlyList<GpuReport> Gpus)
{
    public static EngineReport Measure(int gemmSize = 1024)
    {
        var config = torch.build_config;
        return new EngineReport(
            torch.__version__,
            LoadedLibrary(name => name.Contains("libtorch_cpu", StringComparison.Ordinal)) ?? "(not found in process maps)",
            LoadedLibrary(name => name.Contains("libmha2mla_native", StringComparison.Ordinal)) ?? "(not found in process maps)",
            torch.get_num_threads(),
            LoadedLibrary(name => name.Contains("blas", StringComparison.Ordinal) && !name.StartsWith("libcublas", StringComparison.Ordinal))
                ?? "none loaded (libtorch uses its own kernels)",
            ConfigValue(config, "CPU capability usage:") ?? "unknown",
            MeasureGemm(gemmSize),
            gemmSize,
            torch.nn.functional.scaled_dot_product_attention_is_fused
                ? "scaled_dot_product_attention (PyTorch's fused kernels)"
                : "explicit softmax(q·kᵀ/√d)·v (this libtorch has no fused scaled_dot_product_attention; 2.0+ does)",
            torch.cuda.is_available(),
            torch.cuda.device_count(),
            torch.version.cuda,
            torch.backends.cudnn.version() is { } v ? CudnnVersion(v) : null,
            torch.cuda.is_available() ? Enumerable.Range(0, torch.cuda.device_count()).Select(GpuReport.Of).ToList() : []);
    }

    /// <summary>
    /// doctor's CUDA line. A CUDA libtorch (it reports a CUDA runtime) on a machine with no
    /// visible GPU loads and says so: that is a driver or device matter, not a build one.
    /// </summary>
    public string CudaSummary =>
        CudaAvailable ? $"available, {CudaDevices} device(s), runtime {CudaRuntime ?? "?"}, cuDNN {Cudnn ?? "none"}"
        : CudaRuntime is { } runtime ? $"CUDA libtorch (runtime {runtime}), but no GPU is visible (no NVIDIA driver or device): --device cuda needs one"
        : "not available in this libtorch build";

    // CUDNN_VERSION is major·1000 + minor·100 + patch up to cuDNN 8 and major·10000 + minor·100 + patch from 9.
    internal static string CudnnVersion(long v) => v >= 90000 ? $"{v / 10000}.{v % 10000 / 100}.{v % 100}" : $"{v / 1000}.{v % 1000 / 100}.{v % 100}";

    /// <summary>fp32 GEMM throughput: the best of several n×n·n×n products, in GFLOP/s.</summary>
    public static double MeasureGemm(int n)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var a = torch.randn([n, n]);
        var b = torch.randn([n, n]);
        a.matmul(b).Dispose(); // warm-up
        var best = double.MaxValue;
        for (var i = 0; i < 5; i++)
        {
            var clock = Stopwatch.StartNew();
            a.matmul(b).Dispose();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * n / best / 1e9;
    }

    // Which BLAS really serves libtorch is decided by the dynamic linker (Debian's alternatives
    // for libblas.so.3), so ask the process, not the build configuration.
    private static string? LoadedLibrary(Func<string, bool> fileName)
    {
        try
        {
            return File.ReadLines("/proc/self/maps")
                .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(parts => parts.Length >= 6)
                .Select(parts => parts[5])
                .FirstOrDefault(path => fileName(Path.GetFileName(path)));
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static string? ConfigValue(string config, string key) =>
        config.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Contains(key))?.Split(':', 2)[1].Trim();
}

/// <summary>
/// One GPU as doctor shows it. Flash and memory-efficient attention are PyTorch's fused
/// scaled_dot_product_attention kernels: available when this libtorch has them switched on
/// (2.0+) and the GPU meets their compute capability (flash sm 8.0+, memory-efficient sm 5.0+);
/// flash also wants bf16 or f16, which --dtype defaults to on CUDA.
/// </summary>
public sealed record GpuReport(int Index, string Name, string ComputeCapability, long MemoryBytes, bool FlashAttention, bool MemoryEfficientAttention)
{
    public static GpuReport Of(int index)
    {
        var p = torch.cuda.get_device_properties(index);
        return new GpuReport(index, p.name, $"{p.major}.{p.minor}", p.total_memory,
            torch.backends.cuda.flash_sdp_enabled() && p.major >= 8,
            torch.backends.cuda.mem_efficient_sdp_enabled() && p.major >= 5);
    }
}
