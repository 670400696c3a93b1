using System.Diagnostics;
using Mha2Mla.Torch;

namespace Mha2Mla.Diagnostics;

/// <summary>What `mha2mla doctor` reports: the engine as it actually runs on this machine.</summary>
public sealed record EngineReport(
    string TorchVersion,
    string NativeLibrary,
    int Threads,
    string BlasLibrary,
    string CpuCapability,
    double GemmGflops,
    int GemmSize,
    bool CudaAvailable,
    int CudaDevices)
{
    public static EngineReport Measure(int gemmSize = 1024)
    {
        var config = torch.build_config;
        return new EngineReport(
            torch.__version__,
            LoadedLibrary("libmha2mla_native") ?? "(not found in process maps)",
            torch.get_num_threads(),
            LoadedLibrary("blas") ?? "none loaded (libtorch uses its own kernels)",
            ConfigValue(config, "CPU capability usage:") ?? "unknown",
            MeasureGemm(gemmSize),
            gemmSize,
            torch.cuda.is_available(),
            torch.cuda.device_count());
    }

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
    private static string? LoadedLibrary(string fragment)
    {
        try
        {
            return File.ReadLines("/proc/self/maps")
                .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(parts => parts.Length >= 6)
                .Select(parts => parts[5])
                .FirstOrDefault(path => Path.GetFileName(path).Contains(fragment, StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static string? ConfigValue(string config, string key) =>
        config.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Contains(key))?.Split(':', 2)[1].Trim();
}
