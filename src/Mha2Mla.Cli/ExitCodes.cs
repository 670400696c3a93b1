namespace Mha2Mla.Cli;

/// <summary>The exit codes scripts and CI can rely on.</summary>
public static class ExitCodes
{
    public const int Success = 0;
    /// <summary>A bug or an engine failure: not the user's fault.</summary>
    public const int InternalError = 1;
    /// <summary>Bad usage or bad input: one line on stderr says what and what to do.</summary>
    public const int BadInput = 2;
    public const int Interrupted = 130;
}
