using System.Xml.Linq;

namespace Mha2Mla.Tests.EndToEnd;

/// <summary>
/// `mha2mla sweep`: every point equals the same `convert` run alone; a sweep killed after its
/// first point and run again ends with the results of an uninterrupted one; the plot is XML with
/// one marker per row; a changed grid is refused.
/// </summary>
public class SweepTests : IDisposable
{
    private readonly TempDir dir = new();

    private (string Model, string[] Data) Setup()
    {
        var (model, calib, eval) = Reference.ConversionCase(dir, TinyConfigs.Llama(4, 2), "sweep-model");
        return (model, ["--calib-data", calib, "--calib-seq-len", "24", "--eval-data", eval, "--seq-len", "32"]);
    }

    private static readonly string[] Grid = ["--rope-strategy", "2-norm,high", "--rope-pairs", "2", "--svd", "joint,activation", "--kv-rank", "2,4", "--kv-budget", "25%"];

    // results.csv without its last column (seconds: wall time differs between any two runs).
    private static string[] Rows(string sweep) =>
        File.ReadAllLines(Path.Combine(sweep, "results.csv")).Select(l => l[..l.LastIndexOf(',')]).ToArray();

    [Fact]
    public void AKilledSweepResumesToTheResultsOfAnUninterruptedOneAndEachPointEqualsConvert()
    {
        var (model, data) = Setup();
        var straight = dir.File("straight");
        var run = Support.Cli.Run(["sweep", model, "-o", straight, .. Grid, .. data]);
        Assert.True(run.ExitCode == 0, run.ToString());

        var killed = dir.File("killed");
        var crash = Support.Cli.RunWith(new Dictionary<string, string> { ["MHA2MLA_TEST_CRASH_AT"] = "after-sweep-point" }, ["sweep", model, "-o", killed, .. Grid, .. data]);
        Assert.NotEqual(0, crash.ExitCode);
        Assert.Single(Directory.GetDirectories(killed), d => !Path.GetFileName(d).StartsWith('.'));
        var resumed = Support.Cli.Run(["sweep", model, "-o", killed, .. Grid, .. data]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("finished earlier, kept", resumed.Stderr);
        Assert.Equal(Rows(straight), Rows(killed));

        // 2 strategies x 2 SVDs x 3 widths; each row as `convert` alone computes it.
        var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(straight, "results.json"))).RootElement.EnumerateArray().ToList();
        Assert.Equal(12, results.Count);
        var row = results.Single(r => r.GetProperty("name").GetString() == "high-r2-activation-kv25pct");
        var alone = dir.File("alone");
        var convert = Support.Cli.Run(["convert", model, "-o", alone, "--rope-strategy", "high", "--rope-pairs", "2", "--svd", "activation", "--kv-budget", "25%", .. data]);
        Assert.True(convert.ExitCode == 0, convert.ToString());
        var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(alone, "mha2mla_report.json"))).RootElement;
        Assert.Equal(report.GetProperty("perplexity").GetProperty("converted").GetDouble(), row.GetProperty("perplexity_converted").GetDouble());
        Assert.Equal(report.GetProperty("perplexity").GetProperty("original").GetDouble(), row.GetProperty("perplexity_original").GetDouble());
        Assert.Equal(report.GetProperty("kv_cache").GetProperty("reduction_percent").GetDouble(), row.GetProperty("kv_reduction_percent").GetDouble());
        Assert.True(File.Exists(Path.Combine(straight, "high-r2-activation-kv25pct", "model.safetensors.index.json")));

        // The plot: XML, one marker per row, a Pareto front whose points no other row beats.
        var svg = XDocument.Load(Path.Combine(straight, "sweep.svg"));
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(12, svg.Descendants().Count(e => (string?)e.Attribute("class") == "point"));
        Assert.Single(svg.Descendants(ns + "polyline"), p => (string?)p.Attribute("class") == "pareto");
        Assert.Contains(svg.Descendants(ns + "text"), t => t.Value == "KV-cache reduction (%)");
    }

    [Fact]
    public void AChangedGridIsRefusedAndReportsOnlyPointsKeepNoWeights()
    {
        var (model, data) = Setup();
        var sweep = dir.File("sweep");
        var run = Support.Cli.Run(["sweep", model, "-o", sweep, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "2,4", "--keep-checkpoints", "false", .. data]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(["REPORT.md", "mha2mla_report.json"], Directory.GetFiles(Path.Combine(sweep, "high-r2-joint-dkv4")).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        var before = File.ReadAllText(Path.Combine(sweep, "results.csv"));
        Support.Cli.AssertBadInput(Support.Cli.Run(["sweep", model, "-o", sweep, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "2,8", .. data]), "another grid");
        Assert.Equal(before, File.ReadAllText(Path.Combine(sweep, "results.csv")));
        Support.Cli.AssertBadInput(Support.Cli.Run(["sweep", model, "-o", dir.File("x"), "--kv-rank", "2,2", "--rope-strategy", "high", .. data]), "more than once");
        Support.Cli.AssertBadInput(Support.Cli.Run(["sweep", model, "-o", dir.File("y"), "--kv-rank", "2,100", "--rope-strategy", "high", .. data]), "beyond the rank");
        Assert.False(Directory.Exists(dir.File("y")));

        var replaced = Support.Cli.Run(["sweep", model, "-o", sweep, "--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "2,8", "--overwrite", .. data]);
        Assert.True(replaced.ExitCode == 0, replaced.ToString());
        Assert.Equal(3, File.ReadAllLines(Path.Combine(sweep, "results.csv")).Length);
        Assert.False(Directory.Exists(Path.Combine(sweep, "high-r2-joint-dkv4")));
    }

    public void Dispose() => dir.Dispose();
}
