using System.Diagnostics;
using Spectre.Console;

namespace Mha2Mla.Cli;

/// <summary>
/// Progress for long work: a live bar on stderr when it is a terminal, otherwise a log line
/// every few seconds (so CI logs show life without drowning in carriage returns).
/// </summary>
public static class ProgressDisplay
{
    /// <param name="total">Units of work expected, if known.</param>
    /// <param name="work">Receives a callback to report units done so far.</param>
    public static T Run<T>(string description, long? total, string unit, Func<Action<long>, T> work)
    {
        if (Console.IsErrorRedirected || total is null)
            return RunWithLog(description, total, unit, work);

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask(description, maxValue: total.Value);
                return work(done => task.Value = done);
            });
    }

    private static T RunWithLog<T>(string description, long? total, string unit, Func<Action<long>, T> work)
    {
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        return work(done =>
        {
            if (clock.Elapsed - lastReport < TimeSpan.FromSeconds(10)) return;
            lastReport = clock.Elapsed;
            var of = total is { } t ? $" of {t}" : "";
            Log.Information("{Description}: {Done}{Of} {Unit} ({Elapsed:F0} s)", description, done, of, unit, clock.Elapsed.TotalSeconds);
        });
    }
}
