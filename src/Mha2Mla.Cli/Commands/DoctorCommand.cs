using System.CommandLine;
using Mha2Mla.Diagnostics;

namespace Mha2Mla.Cli.Commands;

/// <summary>`mha2mla doctor`: what engine this machine really runs, and how fast.</summary>
public static class DoctorCommand
{
    public static Command Create()
    {
        var command = new Command("doctor",
            "Report the engine: libtorch version, the BLAS actually loaded with a measured fp32 GEMM GFLOP/s, threads, CUDA devices. " +
            "A GEMM far below ~50 GFLOP/s on CPU usually means the reference BLAS: install libopenblas0-pthread.");
        command.SetAction(parsed =>
        {
            Engine.UseThreads(parsed.GetValue(CommonOptions.Threads));
            var report = EngineReport.Measure();
            if (parsed.GetValue(CommonOptions.Json))
            {
                JsonOutput.Write(report);
                return ExitCodes.Success;
            }
            Console.WriteLine($"libtorch        {report.TorchVersion}");
            Console.WriteLine($"native library  {report.NativeLibrary}");
            Console.WriteLine($"threads         {report.Threads}");
            Console.WriteLine($"CPU kernels     {report.CpuCapability}");
            Console.WriteLine($"BLAS            {report.BlasLibrary}");
            Console.WriteLine($"fp32 GEMM       {report.GemmGflops:F1} GFLOP/s ({report.GemmSize}x{report.GemmSize})");
            Console.WriteLine($"CUDA            {(report.CudaAvailable ? $"available, {report.CudaDevices} device(s)" : "not available in this libtorch build")}");
            return ExitCodes.Success;
        });
        return command;
    }
}
