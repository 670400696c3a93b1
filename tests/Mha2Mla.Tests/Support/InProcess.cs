namespace Mha2Mla.Tests.Support;

/// <summary>
/// Runs the CLI inside the test process (Mha2Mla.Cli.CliApp.Run), for tests that run it hundreds
/// of times. Standard output and error are captured; a run that outlives the timeout fails.
/// </summary>
public static class InProcess
{
    private static readonly Lock Gate = new();

    public static (int ExitCode, string Stderr) Run(string[] args, TimeSpan timeout)
    {
        lock (Gate)
        {
            var (stdout, stderr) = (Console.Out, Console.Error);
            var (captured, errors) = (new StringWriter(), new StringWriter());
            Console.SetOut(captured);
            Console.SetError(errors);
            try
            {
                var run = Task.Run(() => Mha2Mla.Cli.CliApp.Run(args));
                if (!run.Wait(timeout)) throw new TimeoutException($"mha2mla {string.Join(' ', args)} ran over {timeout.TotalSeconds} s");
                return (run.Result, errors.ToString());
            }
            finally
            {
                Console.SetOut(stdout);
                Console.SetError(stderr);
            }
        }
    }
}
