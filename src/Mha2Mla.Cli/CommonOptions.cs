namespace Mha2Mla.Cli;

/// <summary>Options every command shares.</summary>
public static class CommonOptions
{
    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print exactly one JSON object on stdout (logs stay on stderr)",
        Recursive = true,
    };

    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Debug logging, and stack traces on errors",
        Recursive = true,
    };

    public static readonly Option<bool> Quiet = new("--quiet", "-q")
    {
        Description = "Only warnings and errors on stderr",
        Recursive = true,
    };

    public static readonly Option<int?> Threads = new("--threads")
    {
        Description = "CPU threads for libtorch (default: one per core)",
        Recursive = true,
    };

    public static readonly Option<string> Device = new("--device")
    {
        Description = "Where to compute: cpu, cuda or cuda:N",
        DefaultValueFactory = _ => "cpu",
    };
}
