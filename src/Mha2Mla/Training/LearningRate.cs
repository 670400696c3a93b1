namespace Mha2Mla.Training;

/// <summary>
/// The learning rate at each optimizer step (1-based). Warmup rises linearly from lr/W to lr
/// over the first W = ⌈warmup·steps⌉ steps. Then:
/// <list type="bullet">
/// <item>Wsd: constant, and over the last D = ⌈decay·steps⌉ steps lr·(1 − √((s − s₀)/D)),
/// reaching 0 at the final step ("1-sqrt" cooldown, as in the MHA2MLA recipe).</item>
/// <item>Cosine: lr·½(1 + cos(π·progress)) from the end of warmup to 0 at the final step.</item>
/// <item>Constant: lr.</item>
/// </list>
/// </summary>
public static class LearningRate
{
    public static double At(int step, TrainingOptions o)
    {
        var total = o.Steps;
        var warmup = (int)Math.Ceiling(o.WarmupFraction * total);
        if (step <= warmup) return o.LearningRate * step / warmup;
        switch (o.Schedule)
        {
            case LrSchedule.Constant:
                return o.LearningRate;
            case LrSchedule.Cosine:
                var progress = (double)(step - warmup) / Math.Max(1, total - warmup);
                return o.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * progress));
            default:
                var decay = (int)Math.Ceiling(o.DecayFraction * total);
                var decayStart = total - decay;
                if (decay == 0 || step <= decayStart) return o.LearningRate;
                return o.LearningRate * (1 - Math.Sqrt((double)(step - decayStart) / decay));
        }
    }
}
