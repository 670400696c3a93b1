using Mha2Mla.Conversion;

namespace Mha2Mla.Tests.Conversion;

/// <summary>
/// The greedy per-layer allocation against the law it relies on: with non-increasing gains per
/// layer, taking the largest next gain each time keeps as much as any allocation can — checked by
/// exhaustive search over every allocation of small random cases.
/// </summary>
public class RankAllocationTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void GreedyKeepsAsMuchAsTheBestOfEveryAllocation(int seed)
    {
        var random = new Random(seed);
        for (var trial = 0; trial < 50; trial++)
        {
            var layers = random.Next(1, 5);
            var gains = Enumerable.Range(0, layers).Select(_ =>
                Enumerable.Range(0, random.Next(1, 6)).Select(_ => random.NextDouble() * 10).OrderDescending().ToArray()).ToArray();
            var step = random.Next(1, 4);
            var totalSteps = random.Next(layers, gains.Sum(g => g.Length) + 1);

            var widths = RankAllocation.Allocate(gains, step, totalSteps * step + random.Next(step)); // a remainder is dropped
            Assert.Equal(totalSteps * step, widths.Sum());
            Assert.All(widths.Select((w, l) => (w, l)), x => Assert.InRange(x.w, step, gains[x.l].Length * step));
            Assert.Equal(Best(gains, totalSteps), Kept(gains, widths.Select(w => w / step).ToArray()), 9);
        }
    }

    [Fact]
    public void StepGainsSumTheirSingularValuesInGroups()
    {
        Assert.Equal([9.0 + 4, 1 + 0.5], RankAllocation.StepGains([9, 4, 1, 0.5, 0.1], 2)); // a last partial group is not a step
    }

    [Fact]
    public void ABudgetOutsideWhatTheLayersCanHoldIsRefused()
    {
        double[][] gains = [[3, 2, 1], [5, 1]];
        Assert.Contains("less than the smallest latent", Assert.Throws<InvalidInputException>(() => RankAllocation.Allocate(gains, 2, 3)).Message);
        Assert.Contains("more than full rank", Assert.Throws<InvalidInputException>(() => RankAllocation.Allocate(gains, 2, 12)).Message);
        Assert.Equal([6, 4], RankAllocation.Allocate(gains, 2, 10));
    }

    private static double Kept(double[][] gains, int[] steps) => gains.Select((g, l) => g.Take(steps[l]).Sum()).Sum();

    // Every allocation of at least one step per layer, by recursion over the layers.
    private static double Best(double[][] gains, int steps, int layer = 0)
    {
        if (layer == gains.Length) return steps == 0 ? 0 : double.NegativeInfinity;
        var best = double.NegativeInfinity;
        for (var s = 1; s <= Math.Min(steps, gains[layer].Length); s++)
            best = Math.Max(best, gains[layer].Take(s).Sum() + Best(gains, steps - s, layer + 1));
        return best;
    }
}
