using Serilog.Events;

namespace Mha2Mla.Cli;

/// <summary>Serilog on stderr, so stdout carries only results (and exactly one object with --json).</summary>
public static class CliLog
{
    public static void Configure(bool verbose, bool quiet)
    {
        var level = verbose ? LogEventLevel.Debug : quiet ? LogEventLevel.Warning : LogEventLevel.Information;
        Log.Logger = new LoggerConfiguration()
            .MinimumLevel.Is(level)
            .WriteTo.Console(
                outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {Message:lj}{NewLine}",
                standardErrorFromLevel: LogEventLevel.Verbose,
                formatProvider: System.Globalization.CultureInfo.InvariantCulture)
            .CreateLogger();
        Diagnostics.Warnings.Handler = message => Log.Warning("{Message}", message);
    }
}
