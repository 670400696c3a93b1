using System.Runtime.InteropServices;
using Mha2Mla.Storage;

namespace Mha2Mla.Cli;

/// <summary>
/// Ctrl-C (SIGINT) and SIGTERM: one line on stderr, every unfinished output of this run put back
/// as it was (<see cref="OutputDirectory"/>), and the conventional exit code (130, 143).
/// </summary>
public static class Interruption
{
    private static int requested;

    /// <summary>Set once a signal arrived: whatever the main thread reports after that is the signal's doing.</summary>
    public static bool Requested => Volatile.Read(ref requested) != 0;

    public static IDisposable Handle()
    {
        var registrations = new[]
        {
            PosixSignalRegistration.Create(PosixSignal.SIGINT, context => Stop(context, "interrupted", 130)),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => Stop(context, "terminated", 143)),
        };
        return new Registrations(registrations);
    }

    private static void Stop(PosixSignalContext context, string what, int exitCode)
    {
        context.Cancel = true;
        if (Interlocked.Exchange(ref requested, 1) != 0) return;   // a second Ctrl-C while the first is ending the run: one line, one exit
        OutputDirectory.AbandonAll();
        Console.Error.WriteLine($"mha2mla: {what}; unfinished output was removed and any replaced OUT kept");
        Environment.Exit(exitCode);
    }

    private sealed class Registrations(PosixSignalRegistration[] all) : IDisposable
    {
        public void Dispose()
        {
            foreach (var registration in all) registration.Dispose();
        }
    }
}
