using System.Diagnostics;

namespace Mha2Mla.Diagnostics;

/// <summary>Wall time, peak resident memory and, on a GPU, peak GPU memory of one stage of work.</summary>
/// <param name="PeakGpuBytes">What libtorch allocated on the GPU at most during the stage; null on CPU.</param>
public sealed record StageMeasurement(string Stage, double Seconds, long PeakRssBytes, long? PeakGpuBytes = null);

/// <summary>
/// Measures stages: the kernel's peak-RSS mark (VmHWM) is reset at each stage's start by writing
/// 5 to /proc/self/clear_refs, so each stage reports its own peak, not the process's; on a GPU,
/// libtorch's allocator peak is reset the same way. A stage that runs the GPU out of memory ends
/// as bad input that names the stage and what to lower, not as a crash.
/// </summary>
public sealed class StageMeter(Device? gpu = null)
{
    private readonly List<StageMeasurement> stages = [];
    public IReadOnlyList<StageMeasurement> Stages => stages;

    /// <summary>What to lower when a stage runs out of GPU memory, by stage name.</summary>
    public Dictionary<string, string> OutOfMemoryAdvice { get; } = [];

    public T Measure<T>(string stage, Func<T> work)
    {
        ResetPeak();
        if (gpu is { } device) torch.cuda.reset_peak_memory_stats(device.index);
        var clock = Stopwatch.StartNew();
        T result;
        try
        {
            result = work();
        }
        catch (TorchException e) when (gpu is not null && e.IsOutOfMemory)
        {
            torch.cuda.empty_cache();
            var advice = OutOfMemoryAdvice.GetValueOrDefault(stage, "lower the batch or sequence length");
            throw new InvalidInputException($"{gpu} ran out of memory in stage '{stage}': {advice}, or run on --device cpu");
        }
        long? gpuPeak = gpu is { } used ? torch.cuda.max_memory_allocated(used.index) : null;
        stages.Add(new StageMeasurement(stage, clock.Elapsed.TotalSeconds, PeakRss(), gpuPeak));
        return result;
    }

    public void Measure(string stage, Action work) => Measure(stage, () =>
    {
        work();
        return true;
    });

    public static long PeakRss()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            if (line is not null) return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        catch (IOException) { }
        using var process = Process.GetCurrentProcess();
        return process.PeakWorkingSet64;
    }

    private static void ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
