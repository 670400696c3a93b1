using System.Diagnostics;

namespace Mha2Mla.Reports;

/// <summary>Wall time and peak resident memory of one stage of work.</summary>
public sealed record StageMeasurement(string Stage, double Seconds, long PeakRssBytes);

/// <summary>
/// Measures stages: the kernel's peak-RSS mark (VmHWM) is reset at each stage's start by writing
/// 5 to /proc/self/clear_refs, so each stage reports its own peak, not the process's.
/// </summary>
public sealed class StageMeter
{
    private readonly List<StageMeasurement> stages = [];
    public IReadOnlyList<StageMeasurement> Stages => stages;

    public T Measure<T>(string stage, Func<T> work)
    {
        ResetPeak();
        var clock = Stopwatch.StartNew();
        var result = work();
        stages.Add(new StageMeasurement(stage, clock.Elapsed.TotalSeconds, PeakRss()));
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
