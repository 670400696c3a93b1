using Mha2Mla.Diagnostics;

namespace Mha2Mla.Cli.Commands;

/// <summary>`mha2mla doctor`: what engine this machine really runs, and how fast.</summary>
public static class DoctorCommand
{
    public static Command Create()
    {
        var command = new Command("doctor",
            "Report the engine: libtorch version and location, the BLAS actually loaded with a measured fp32 GEMM GFLOP/s, threads, and for each GPU " +
            "its name, compute capability, memory, the CUDA and cuDNN versions and whether PyTorch's flash / memory-efficient attention kernels can run. " +
            "A GEMM far below ~50 GFLOP/s on CPU usually means the reference BLAS: install libopenblas0-pthread.");
        command.SetAction(parsed =>
        {
            Runtime.UseThreads(parsed.GetValue(CommonOptions.Threads));
            var report = EngineReport.Measure();
            if (parsed.GetValue(CommonOptions.Json))
            {
                JsonOutput.Write(report);
                return ExitCodes.Success;
            }
            Console.WriteLine($"libtorch        {report.TorchVersion} ({report.TorchLibrary})");
            Console.WriteLine($"native library  {report.NativeLibrary}");
            Console.WriteLine($"threads         {report.Threads}");
            Console.WriteLine($"CPU kernels     {report.CpuCapability}");
            Console.WriteLine($"BLAS            {report.BlasLibrary}");
            Console.WriteLine($"fp32 GEMM       {report.GemmGflops:F1} GFLOP/s ({report.GemmSize}x{report.GemmSize})");
            Console.WriteLine($"attention       {report.Attention}");
            Console.WriteLine($"CUDA            {report.CudaSummary}");
            foreach (var gpu in report.Gpus)
                Console.WriteLine($"  cuda:{gpu.Index}          {gpu.Name}, sm {gpu.ComputeCapability}, {gpu.MemoryBytes / 1073741824.0:F1} GiB, " +
                                  $"flash attention {(gpu.FlashAttention ? "yes" : "no")}, memory-efficient attention {(gpu.MemoryEfficientAttention ? "yes" : "no")}");
            return ExitCodes.Success;
        });
        return command;
    }
}
