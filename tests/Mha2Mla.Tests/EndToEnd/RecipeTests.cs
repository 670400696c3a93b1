using Mha2Mla.Cli;

namespace Mha2Mla.Tests.EndToEnd;

/// <summary>A recipe's entries become options before the user's, and the user's flags win — also over an alternative spelling of the same choice.</summary>
public class RecipeTests : IDisposable
{
    private readonly TempDir dir = new();

    [Fact]
    public void FlagsOverrideTheRecipeIncludingItsAlternative()
    {
        var recipe = dir.File("r.yaml");
        File.WriteAllText(recipe, "kv-rank: 8\nrope-pairs: 4\nsvd: joint\n");
        Assert.Equal(["convert", "--kv-rank", "8", "--rope-pairs", "4", "--svd", "joint", "m"], Recipe.Expand(["convert", "--config", recipe, "m"], CliApp.BuildRoot()));
        Assert.Equal(["convert", "--rope-pairs", "4", "--svd", "joint", "m", "--kv-budget", "25%"], Recipe.Expand(["convert", "--config", recipe, "m", "--kv-budget", "25%"], CliApp.BuildRoot()));
        Assert.Equal(["convert", "--kv-rank", "8", "--rope-pairs", "4", "m", "--svd=split"], Recipe.Expand(["convert", "m", "--svd=split", "--config", recipe], CliApp.BuildRoot()));
    }

    public void Dispose() => dir.Dispose();
}
