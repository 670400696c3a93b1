using Mha2Mla.Training;

namespace Mha2Mla.Tests.Training;

public class LearningRateTests
{
    [Fact]
    public void WsdWarmsUpHoldsThenDecaysByOneMinusSqrtToZero()
    {
        var o = new TrainingOptions { Steps = 100, LearningRate = 1.0, WarmupFraction = 0.05, DecayFraction = 0.1 };
        Assert.Equal(0.2, LearningRate.At(1, o), 12);
        Assert.Equal(1.0, LearningRate.At(5, o), 12);
        Assert.Equal(1.0, LearningRate.At(90, o), 12);
        Assert.Equal(1 - Math.Sqrt(0.1), LearningRate.At(91, o), 12);
        Assert.Equal(1 - Math.Sqrt(0.5), LearningRate.At(95, o), 12);
        Assert.Equal(0.0, LearningRate.At(100, o), 12);
    }

    [Fact]
    public void CosineAndConstant()
    {
        var cosine = new TrainingOptions { Steps = 20, LearningRate = 2.0, WarmupFraction = 0, Schedule = LrSchedule.Cosine };
        Assert.Equal(1.0, LearningRate.At(10, cosine), 12);
        Assert.Equal(0.0, LearningRate.At(20, cosine), 12);
        var constant = new TrainingOptions { Steps = 20, LearningRate = 2.0, WarmupFraction = 0.1, Schedule = LrSchedule.Constant };
        Assert.Equal(1.0, LearningRate.At(1, constant), 12);
        Assert.Equal(2.0, LearningRate.At(20, constant), 12);
    }

    [Fact]
    public void OptionsThatCannotWorkAreInputErrors()
    {
        Assert.Throws<InvalidInputException>(() => new TrainingOptions { Steps = 0 }.Resolve(Device.CPU));
        Assert.Throws<InvalidInputException>(() => new TrainingOptions { WarmupFraction = 0.6, DecayFraction = 0.6 }.Resolve(Device.CPU));
        Assert.Throws<InvalidInputException>(() => new TrainingOptions { LearningRate = double.NaN }.Resolve(Device.CPU));
    }
}
