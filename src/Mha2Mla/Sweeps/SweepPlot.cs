using System.Globalization;
using System.Security;
using System.Text;

namespace Mha2Mla.Sweeps;

/// <summary>
/// sweep.svg: perplexity against KV-cache reduction, a colour per RoPE strategy and a shape per
/// SVD mode, one marker (class "point", with a tooltip) per row, the Pareto front — no other point
/// has both a larger reduction and a lower perplexity — ringed and joined by a dashed line. Plain
/// SVG a browser shows.
/// </summary>
public static class SweepPlot
{
    private const double Width = 760, Height = 480, Left = 70, Right = 200, Top = 40, Bottom = 60;
    private static readonly string[] Colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];

    public static string Svg(IReadOnlyList<SweepResult> rows, string title)
    {
        var c = CultureInfo.InvariantCulture;
        var plotted = rows.Where(r => r.Perplexity is { } p && double.IsFinite(p) && p > 0).ToList();
        var svg = new StringBuilder();
        svg.AppendLine(c, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.AppendLine(c, $"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>");
        svg.AppendLine(c, $"<text x=\"{Left}\" y=\"24\" font-size=\"15\">{Escape(title)}</text>");
        if (plotted.Count == 0)
        {
            svg.AppendLine(c, $"<text x=\"{Left}\" y=\"{Height / 2}\">No perplexity to plot: run the sweep with --eval-data.</text>");
            return svg.AppendLine("</svg>").ToString();
        }

        // Axes: reduction linear; perplexity on a log scale when it spans more than 5x.
        var (xMin, xMax) = Padded(plotted.Min(r => r.KvReductionPercent), plotted.Max(r => r.KvReductionPercent));
        var log = plotted.Max(r => r.Perplexity!.Value) / plotted.Min(r => r.Perplexity!.Value) > 5;
        double Y(double p) => log ? Math.Log10(p) : p;
        var (yMin, yMax) = Padded(plotted.Min(r => Y(r.Perplexity!.Value)), plotted.Max(r => Y(r.Perplexity!.Value)));
        double Px(double x) => Left + (x - xMin) / (xMax - xMin) * (Width - Left - Right);
        double Py(double p) => Height - Bottom - (Y(p) - yMin) / (yMax - yMin) * (Height - Top - Bottom);

        svg.AppendLine(c, $"<g stroke=\"black\"><line x1=\"{Left}\" y1=\"{Height - Bottom}\" x2=\"{Width - Right}\" y2=\"{Height - Bottom}\"/><line x1=\"{Left}\" y1=\"{Top}\" x2=\"{Left}\" y2=\"{Height - Bottom}\"/></g>");
        for (var i = 0; i <= 5; i++)
        {
            var x = xMin + (xMax - xMin) * i / 5;
            svg.AppendLine(c, $"<text x=\"{Px(x):F1}\" y=\"{Height - Bottom + 16}\" text-anchor=\"middle\">{x:F1}</text>");
            var y = yMin + (yMax - yMin) * i / 5;
            var label = log ? Math.Pow(10, y) : y;
            svg.AppendLine(c, $"<text x=\"{Left - 6}\" y=\"{Height - Bottom - (y - yMin) / (yMax - yMin) * (Height - Top - Bottom) + 4:F1}\" text-anchor=\"end\">{label:G4}</text>");
        }
        svg.AppendLine(c, $"<text x=\"{(Left + Width - Right) / 2}\" y=\"{Height - 18}\" text-anchor=\"middle\">KV-cache reduction (%)</text>");
        svg.AppendLine(c, $"<text transform=\"translate(18 {(Top + Height - Bottom) / 2}) rotate(-90)\" text-anchor=\"middle\">perplexity{(log ? " (log scale)" : "")}</text>");

        var front = ParetoFront(plotted);
        svg.AppendLine(c, $"<polyline class=\"pareto\" fill=\"none\" stroke=\"black\" stroke-dasharray=\"5 4\" points=\"{string.Join(' ', front.Select(r => $"{Px(r.KvReductionPercent).ToString("F1", c)},{Py(r.Perplexity!.Value).ToString("F1", c)}"))}\"/>");

        var strategies = plotted.Select(r => r.RopeStrategy).Distinct().ToList();
        var svds = plotted.Select(r => r.Svd).Distinct().ToList();
        string Colour(string strategy) => Colours[strategies.IndexOf(strategy) % Colours.Length];
        foreach (var r in plotted)
        {
            var ring = front.Contains(r) ? " stroke=\"black\" stroke-width=\"2\"" : "";
            var tooltip = $"<title>{Escape(r.Name)}: -{r.KvReductionPercent.ToString("F2", c)} %, perplexity {r.Perplexity!.Value.ToString("F3", c)}</title>";
            svg.AppendLine(Marker(svds.IndexOf(r.Svd), Px(r.KvReductionPercent), Py(r.Perplexity!.Value), Colour(r.RopeStrategy), $"class=\"point\"{ring}", tooltip));
        }
        var legend = Top + 10;
        foreach (var strategy in strategies)
        {
            svg.AppendLine(Marker(0, Width - Right + 20, legend, Colour(strategy), "", "") + $"<text x=\"{Width - Right + 32}\" y=\"{legend + 4}\">{Escape(strategy)}</text>");
            legend += 18;
        }
        for (var i = 0; i < svds.Count; i++, legend += 18)
            svg.AppendLine(Marker(i, Width - Right + 20, legend, "#888888", "", "") + $"<text x=\"{Width - Right + 32}\" y=\"{legend + 4}\">{Escape(svds[i])} SVD</text>");
        svg.AppendLine(c, $"<line x1=\"{Width - Right + 12}\" y1=\"{legend}\" x2=\"{Width - Right + 28}\" y2=\"{legend}\" stroke=\"black\" stroke-dasharray=\"5 4\"/><text x=\"{Width - Right + 32}\" y=\"{legend + 4}\">Pareto front</text>");
        return svg.AppendLine("</svg>").ToString();
    }

    // Shape by SVD mode: circle, square, triangle, diamond.
    private static string Marker(int shape, double x, double y, string colour, string attributes, string title)
    {
        var c = CultureInfo.InvariantCulture;
        FormattableString element = (shape % 4) switch
        {
            0 => $"<circle {attributes} cx=\"{x:F1}\" cy=\"{y:F1}\" r=\"5\" fill=\"{colour}\">{title}</circle>",
            1 => $"<rect {attributes} x=\"{x - 4.5:F1}\" y=\"{y - 4.5:F1}\" width=\"9\" height=\"9\" fill=\"{colour}\">{title}</rect>",
            2 => $"<polygon {attributes} points=\"{x:F1},{y - 6:F1} {x - 5.5:F1},{y + 4:F1} {x + 5.5:F1},{y + 4:F1}\" fill=\"{colour}\">{title}</polygon>",
            _ => $"<polygon {attributes} points=\"{x:F1},{y - 6:F1} {x + 6:F1},{y:F1} {x:F1},{y + 6:F1} {x - 6:F1},{y:F1}\" fill=\"{colour}\">{title}</polygon>",
        };
        return element.ToString(c);
    }

    /// <summary>The rows no other row beats on both axes (larger reduction and lower perplexity), by reduction.</summary>
    public static List<SweepResult> ParetoFront(IReadOnlyList<SweepResult> rows) =>
        rows.Where(r => !rows.Any(o => o.KvReductionPercent >= r.KvReductionPercent && o.Perplexity <= r.Perplexity
                                      && (o.KvReductionPercent > r.KvReductionPercent || o.Perplexity < r.Perplexity)))
            .OrderBy(r => r.KvReductionPercent).ToList();

    private static (double, double) Padded(double min, double max)
    {
        var pad = max > min ? (max - min) * 0.08 : Math.Max(Math.Abs(min) * 0.05, 0.5);
        return (min - pad, max + pad);
    }

    private static string Escape(string text) => SecurityElement.Escape(text);
}
