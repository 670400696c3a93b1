using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Mha2Mla.Cli;

/// <summary>
/// A YAML recipe (--config FILE): a flat mapping from option names (without the dashes) to values,
/// e.g. "kv-rank: 8". Its entries become command-line options, placed before the user's own so
/// that flags given on the command line override the recipe. Paths are taken as written
/// (relative to the current directory).
/// </summary>
public static class Recipe
{
    /// <summary>Short spellings a recipe key may meet on the command line.</summary>
    private static readonly Dictionary<string, string> Aliases = new() { ["-o"] = "--output", ["-v"] = "--verbose", ["-q"] = "--quiet" };

    /// <summary>Options that say the same thing two ways: one on the command line overrides the other in the recipe.</summary>
    private static readonly Dictionary<string, string> Alternatives = new() { ["--kv-rank"] = "--kv-budget", ["--kv-budget"] = "--kv-rank" };

    public static string[] Expand(string[] args)
    {
        // --config=FILE is --config FILE.
        args = args.SelectMany(a => a.StartsWith("--config=", StringComparison.Ordinal) ? ["--config", a["--config=".Length..]] : new[] { a }).ToArray();
        var index = Array.IndexOf(args, "--config");
        if (index < 0) return args;
        if (index + 1 >= args.Length) throw new InvalidInputException("--config needs a recipe file (YAML)");
        var path = args[index + 1];
        var given = args.Select(a => Aliases.GetValueOrDefault(a, a.Split('=')[0])).Where(a => a.StartsWith("--", StringComparison.Ordinal)).ToHashSet();
        var fromRecipe = new List<string>();
        foreach (var (key, value) in Read(path))
        {
            var flag = "--" + key;
            if (given.Contains(flag) || (Alternatives.TryGetValue(flag, out var other) && given.Contains(other))) continue; // the command line wins
            if (value is "true") fromRecipe.Add(flag);
            else if (value is not "false") fromRecipe.AddRange([flag, value]);
        }
        var rest = args.Where((_, i) => i != index && i != index + 1).ToList();
        // Recipe options go right after the command word, before everything else the user typed.
        var command = rest.FindIndex(a => !a.StartsWith('-'));
        return [.. rest.Take(command + 1), .. fromRecipe, .. rest.Skip(command + 1)];
    }

    private static IEnumerable<(string Key, string Value)> Read(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"--config {path}: no such file");
        var yaml = new YamlStream();
        try
        {
            using var reader = new StreamReader(path);
            yaml.Load(reader);
        }
        // YamlDotNet's scanner also throws InvalidOperationException on some malformed text.
        catch (Exception e) when (e is YamlException or InvalidOperationException)
        {
            throw new InvalidInputException($"--config {path}: not valid YAML ({e.Message.Split('\n')[0]})");
        }
        if (yaml.Documents.Count == 0) yield break;
        if (yaml.Documents[0].RootNode is not YamlMappingNode mapping)
            throw new InvalidInputException($"--config {path}: a recipe is a mapping of option names to values");
        foreach (var (key, value) in mapping.Children)
        {
            if (key is not YamlScalarNode { Value: { Length: > 0 } name })
                throw new InvalidInputException($"--config {path}: line {key.Start.Line}: a key must be an option name (e.g. kv-rank)");
            // A list ([4, 8, 16]) is what sweep's options spell "4,8,16".
            yield return value switch
            {
                YamlScalarNode scalar => (name, scalar.Value ?? ""),
                YamlSequenceNode list when list.Children.All(i => i is YamlScalarNode) => (name, string.Join(',', list.Children.Cast<YamlScalarNode>().Select(i => i.Value))),
                _ => throw new InvalidInputException($"--config {path}: '{name}' must be a value or a list of values"),
            };
        }
    }
}
