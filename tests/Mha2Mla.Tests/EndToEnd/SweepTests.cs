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

    [Fact]
    public void ACheckpointMadeElsewhereJoinsAFinishedSweepAsARowOfItsOwn()
    {
        var (model, data) = Setup();
        var deepSeek = dir.Sub("deepseek");   // DeepSeek-V3 as another tool writes it: the plain-PyTorch reference's own
        Reference.RunScript("deepseek_reference.py", "make", deepSeek, "--config", JsonSerializer.Serialize(TinyConfigs.DeepSeekV3()), "--dtype", "bf16", "--shards", "1", "--seed", "5");
        var sweep = dir.File("compared");
        string[] grid = ["--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "2"];
        var first = Support.Cli.Run(["sweep", model, "-o", sweep, .. grid, .. data]);
        Assert.True(first.ExitCode == 0, first.ToString());

        var again = Support.Cli.Run(["sweep", model, "-o", sweep, .. grid, .. data, "--compare", deepSeek]);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("finished earlier, kept", again.Stderr);
        var rows = JsonDocument.Parse(File.ReadAllText(Path.Combine(sweep, "results.json"))).RootElement.EnumerateArray().ToList();
        Assert.Equal(2, rows.Count);
        var row = rows[1];
        Assert.Equal("compare-deepseek", row.GetProperty("name").GetString());
        Assert.Equal("compared", row.GetProperty("rope_strategy").GetString());
        // Its own cache: 2 layers x (kv_lora_rank 12 + one rope head of 4) against the source's 2 x 2 KV heads x 2 x 16.
        Assert.Equal(32, row.GetProperty("kv_elements_per_token").GetInt64());
        Assert.Equal(75.0, row.GetProperty("kv_reduction_percent").GetDouble(), 10);
        Assert.Equal(rows[0].GetProperty("perplexity_original").GetDouble(), row.GetProperty("perplexity_original").GetDouble());
        var eval = data[Array.IndexOf(data, "--eval-data") + 1];
        var reference = JsonDocument.Parse(Reference.RunScript("deepseek_reference.py", "perplexity", deepSeek, "--data", eval)).RootElement.GetProperty("perplexity").GetDouble();
        var measured = row.GetProperty("perplexity_converted").GetDouble();
        Assert.True(Math.Abs(measured - reference) / reference <= 1e-5, $"sweep's row {measured}, the DeepSeek-V3 reference {reference}");
        Assert.Equal(3, File.ReadAllLines(Path.Combine(sweep, "results.csv")).Length);
    }

    [Fact]
    public void ComparedCheckpointsMustShareTheVocabularyAndNeedEvalDataAndAnMlaModelIsComparedNotSwept()
    {
        var (model, data) = Setup();
        var other = dir.Sub("other-vocab");
        Reference.RunScript("deepseek_reference.py", "make", other, "--config", JsonSerializer.Serialize(TinyConfigs.DeepSeekV3().With("vocab_size", 101)), "--dtype", "bf16", "--shards", "1", "--seed", "5");
        string[] grid = ["--rope-strategy", "high", "--rope-pairs", "2", "--kv-rank", "2"];
        Support.Cli.AssertBadInput(Support.Cli.Run(["sweep", model, "-o", dir.File("a"), .. grid, .. data, "--compare", other]), "do not compare");
        Support.Cli.AssertBadInput(Support.Cli.Run(["sweep", model, "-o", dir.File("b"), .. grid, "--compare", model]), "give --eval-data");
        Assert.False(Directory.Exists(dir.File("a")));
        var deepSeek = dir.Sub("deepseek-input");
        Reference.RunScript("deepseek_reference.py", "make", deepSeek, "--config", JsonSerializer.Serialize(TinyConfigs.DeepSeekV3()), "--dtype", "bf16", "--shards", "1", "--seed", "5");
        Support.Cli.AssertBadInput(Support.Cli.Run(["sweep", deepSeek, "-o", dir.File("c"), .. grid, .. data]), "pass this one to --compare");
    }

    public void Dispose() => dir.Dispose();
}
