using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Mha2Mla.Cli;

/// <summary>
/// A YAML recipe (--config FILE): a flat mapping from option names (without the dashes) to values,
/// e.g. "kv-rank: 8". Its entries become command-line options, placed before the user's own so
/// that flags given on the command line override the recipe. Paths are taken as written
/// (relative to the current directory). Every key must be an option of the command (a typo is
/// named with its line, never passed on as a stray value); true/false set a switch either way.
/// </summary>
public static class Recipe
{
    /// <summary>Short spellings a recipe key may meet on the command line.</summary>
    private static readonly Dictionary<string, string> Aliases = new() { ["-o"] = "--output", ["-v"] = "--verbose", ["-q"] = "--quiet" };

    /// <summary>Options that say the same thing two ways: one on the command line overrides the other in the recipe.</summary>
    private static readonly Dictionary<string, string> Alternatives = new() { ["--kv-rank"] = "--kv-budget", ["--kv-budget"] = "--kv-rank" };

    /// <summary>Options no recipe may set: they are not part of a conversion.</summary>
    private static readonly string[] NotInRecipes = ["--config", "--help", "--version", "-h", "-?"];

    public static string[] Expand(string[] args, RootCommand root)
    {
        // --config=FILE is --config FILE.
        args = args.SelectMany(a => a.StartsWith("--config=", StringComparison.Ordinal) ? ["--config", a["--config=".Length..]] : new[] { a }).ToArray();
        var index = Array.IndexOf(args, "--config");
        if (index < 0) return args;
        if (index + 1 >= args.Length) throw new InvalidInputException("--config needs a recipe file (YAML)");
        var path = args[index + 1];
        Storage.NamedInputs.Add(path);
        var commandName = args.FirstOrDefault(a => !a.StartsWith('-'));
        var subcommand = root.Subcommands.FirstOrDefault(c => c.Name == commandName);
        var known = subcommand is null ? null : subcommand.Options.Concat(root.Options.Where(o => o.Recursive))
            .SelectMany(o => o.Aliases.Append(o.Name)).ToHashSet();
        var given = args.Select(a => Aliases.GetValueOrDefault(a, a.Split('=')[0])).Where(a => a.StartsWith("--", StringComparison.Ordinal)).ToHashSet();
        var fromRecipe = new List<string>();
        foreach (var (key, value, line) in Read(path))
        {
            var flag = "--" + key;
            if (NotInRecipes.Contains(flag))
                throw new InvalidInputException($"--config {path}: line {line}: '{key}' cannot be set in a recipe; a recipe holds the options of a command");
            if (known is not null && !known.Contains(flag))
                throw new InvalidInputException($"--config {path}: line {line}: '{key}' is not an option of {commandName}{Suggestion(key, known)} (see 'mha2mla {commandName} --help')");
            if (given.Contains(flag) || (Alternatives.TryGetValue(flag, out var other) && given.Contains(other))) continue; // the command line wins
            if (value is "true") fromRecipe.Add(flag);
            else fromRecipe.AddRange([flag, value]); // "false" too: a switch that is on by default (keep-checkpoints) is turned off
        }
        var rest = args.Where((_, i) => i != index && i != index + 1).ToList();
        // Recipe options go right after the command word, before everything else the user typed.
        var command = rest.FindIndex(a => !a.StartsWith('-'));
        return [.. rest.Take(command + 1), .. fromRecipe, .. rest.Skip(command + 1)];
    }

    // "; did you mean kv-rank?" when one option is a typo away.
    private static string Suggestion(string key, IEnumerable<string> known)
    {
        var close = known.Where(k => k.StartsWith("--", StringComparison.Ordinal)).Select(k => k[2..])
            .Select(k => (Name: k, Distance: Distance(k, key))).Where(c => c.Distance <= 2).OrderBy(c => c.Distance).FirstOrDefault();
        return close.Name is null ? "" : $"; did you mean {close.Name}?";
    }

    // Levenshtein distance, one row at a time.
    private static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var diagonal = row[0];
            row[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var next = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = row[j];
                row[j] = next;
            }
        }
        return row[b.Length];
    }

    private static IEnumerable<(string Key, string Value, long Line)> Read(string path)
    {
        var text = UserFiles.ReadText(path, $"--config {path}", limit: 1 << 20);
        var yaml = new YamlStream();
        try
        {
            yaml.Load(new StringReader(text));
        }
        // YamlDotNet's scanner also throws InvalidOperationException on some malformed text.
        catch (Exception e) when (e is YamlException or InvalidOperationException)
        {
            throw new InvalidInputException($"--config {path}: not valid YAML ({e.Message.Split('\n')[0]})");
        }
        if (yaml.Documents.Count == 0) yield break;
        if (yaml.Documents.Count > 1)
            throw new InvalidInputException($"--config {path}: holds {yaml.Documents.Count} YAML documents (separated by ---); a recipe is one mapping of options");
        if (yaml.Documents[0].RootNode is not YamlMappingNode mapping)
            throw new InvalidInputException($"--config {path}: a recipe is a mapping of option names to values");
        foreach (var (key, value) in mapping.Children)
        {
            if (key is not YamlScalarNode { Value: { Length: > 0 } name })
                throw new InvalidInputException($"--config {path}: line {key.Start.Line}: a key must be an option name (e.g. kv-rank)");
            // A list ([4, 8, 16]) is what sweep's options spell "4,8,16".
            yield return value switch
            {
                YamlScalarNode scalar => (name, scalar.Value ?? "", key.Start.Line),
                YamlSequenceNode list when list.Children.All(i => i is YamlScalarNode) => (name, string.Join(',', list.Children.Cast<YamlScalarNode>().Select(i => i.Value)), key.Start.Line),
                _ => throw new InvalidInputException($"--config {path}: '{name}' must be a value or a list of values"),
            };
        }
    }
}
