namespace Mha2Mla.Tests.Support;

/// <summary>Files of the source checkout the tests read (golden data, npm-installed reference files).</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string TokenizerData => Path.Combine(Root, "tests", "data", "tokenizers");

    /// <summary>A file of an npm package installed by scripts/setup.sh into scripts/js/node_modules.</summary>
    public static string NpmFile(string package, string file)
    {
        var path = Path.Combine(Root, "scripts", "js", "node_modules", package, file);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path} is missing: run scripts/setup.sh (it runs 'npm ci' in scripts/js)");
        return path;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Mha2Mla.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("cannot find the repository root (Mha2Mla.sln) above the test binaries");
    }
}
