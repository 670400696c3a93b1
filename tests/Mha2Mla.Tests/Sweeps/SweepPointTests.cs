using Mha2Mla.Conversion;
using Mha2Mla.Sweeps;

namespace Mha2Mla.Tests.Sweeps;

/// <summary>The grid of a sweep: every combination of its lists, each point named once, settings that cannot apply left out.</summary>
public class SweepPointTests
{
    [Fact]
    public void ScoresVaryOnlyTwoNormAndBalancingDoublesEveryPoint()
    {
        var points = SweepPoint.Grid([RopeStrategy.TwoNorm, RopeStrategy.High], [2], [SvdMode.Joint], [4], [],
            [RopeScore.Product, RopeScore.Sum], [false, true]);
        Assert.Equal(
            ["2-norm-r2-rc-joint-dkv4", "2-norm-r2-rc-joint-dkv4-bkv", "2-norm-sum-r2-rc-joint-dkv4", "2-norm-sum-r2-rc-joint-dkv4-bkv", "high-r2-joint-dkv4", "high-r2-joint-dkv4-bkv"],
            points.Select(p => p.Name));
        var request = points[3].Request(new ConversionRequest(Damping: 0.5));
        Assert.Equal((RopeScore.Sum, true, 0.5), (request.Score, request.KvBalance, request.Damping));
    }

    [Fact]
    public void CompensationIsAnAxisNamedAfterThePairs()
    {
        var points = SweepPoint.Grid([RopeStrategy.High], [4], [SvdMode.Joint], [8], [], compensations: [false, true]);
        Assert.Equal(["high-r4-joint-dkv8", "high-r4-rc-joint-dkv8"], points.Select(p => p.Name));
        Assert.True(points[1].Request(new ConversionRequest()).RopeCompensation);
    }

    [Fact]
    public void FoldsVaryOnlyRoRope()
    {
        var points = SweepPoint.Grid([RopeStrategy.High, RopeStrategy.RoRope], [2], [SvdMode.Joint], [4], [], compensations: [false, true], folds: [1, 4]);
        Assert.Equal(["high-r2-joint-dkv4", "high-r2-rc-joint-dkv4", "rorope-f1-r2-joint-dkv4", "rorope-f1-r2-rc-joint-dkv4", "rorope-f4-r2-joint-dkv4",
            "rorope-f4-r2-rc-joint-dkv4"], points.Select(p => p.Name));
        var request = points[5].Request(new ConversionRequest());
        Assert.Equal((RopeStrategy.RoRope, 4, true), (request.Strategy, request.FreqFold, request.RopeCompensation));
        Assert.Null(points[0].Request(new ConversionRequest()).FreqFold);
    }

    [Fact]
    public void WithoutListsEveryPointTakesConvertsDefaultsAndIsNamedByWhatItApplies()
    {
        var points = SweepPoint.Grid([], [], [SvdMode.Joint, SvdMode.Split], [4], []);
        Assert.Equal(["2-norm-rdefault-rc-joint-dkv4", "2-norm-rdefault-rc-split-dkv4"], points.Select(p => p.Name));
        Assert.All(points, p => Assert.Equal((RopeScore.Product, false, true), (p.Score, p.KvBalance, p.RopeCompensation)));
        // Compensation is convert's default where the strategy calibrates anyway; high, low and uniform need no data, so not there.
        var strategies = SweepPoint.Grid([RopeStrategy.High, RopeStrategy.Low, RopeStrategy.Uniform, RopeStrategy.RoRope], [], [], [4], []);
        Assert.Equal(["high-rdefault-joint-dkv4", "low-rdefault-joint-dkv4", "uniform-rdefault-joint-dkv4", "rorope-rdefault-rc-joint-dkv4"], strategies.Select(p => p.Name));
    }

    [Fact]
    public void AValueListedTwiceIsRefusedNotMerged()
    {
        Assert.Contains("more than once", Assert.Throws<InvalidInputException>(() => SweepPoint.Grid([RopeStrategy.High], [], [], [2, 2], [])).Message);
        Assert.Contains("more than once", Assert.Throws<InvalidInputException>(() =>
            SweepPoint.Grid([RopeStrategy.TwoNorm], [], [], [2], [], [RopeScore.Sum, RopeScore.Sum])).Message);
        Assert.Contains("more than once", Assert.Throws<InvalidInputException>(() =>
            SweepPoint.Grid([RopeStrategy.High], [], [], [2], [], balances: [true, true])).Message);
    }
}
