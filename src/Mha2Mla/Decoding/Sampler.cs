namespace Mha2Mla.Decoding;

/// <summary>How the next token is chosen: greedy at temperature 0, else sampled after top-k and top-p filtering.</summary>
public sealed record SamplingOptions(double Temperature = 0, int TopK = 0, double TopP = 1.0, int Seed = 0)
{
    public void Check()
    {
        if (!(Temperature >= 0) || double.IsInfinity(Temperature)) throw new InvalidInputException($"--temperature must be 0 (greedy) or positive, not {Temperature}");
        if (TopK < 0) throw new InvalidInputException($"--top-k must not be negative, not {TopK}");
        if (!(TopP > 0 && TopP <= 1)) throw new InvalidInputException($"--top-p must be in (0, 1], not {TopP}");
    }
}

/// <summary>Picks tokens from logits, reproducibly for a seed (one generator, draws in batch order).</summary>
public sealed class Sampler(SamplingOptions options)
{
    private readonly Random random = new(options.Seed);

    public int Next(ReadOnlySpan<float> logits)
    {
        if (options.Temperature == 0) return ArgMax(logits);
        var order = Enumerable.Range(0, logits.Length).ToArray();
        var values = logits.ToArray();
        Array.Sort(values.Select(v => -v).ToArray(), order); // descending by logit, stable for ties
        var keep = options.TopK > 0 ? Math.Min(options.TopK, order.Length) : order.Length;
        var max = values[order[0]];
        var weights = new double[keep];
        double total = 0;
        for (var i = 0; i < keep; i++) total += weights[i] = Math.Exp((values[order[i]] - max) / options.Temperature);
        // Top-p: the smallest head of the sorted distribution whose mass reaches p.
        double mass = 0;
        var nucleus = keep;
        for (var i = 0; i < keep; i++)
        {
            mass += weights[i] / total;
            if (mass >= options.TopP) { nucleus = i + 1; break; }
        }
        var draw = random.NextDouble() * weights.Take(nucleus).Sum();
        for (var i = 0; i < nucleus; i++)
        {
            draw -= weights[i];
            if (draw <= 0) return order[i];
        }
        return order[nucleus - 1];
    }

    /// <summary>The highest logit; ties go to the lower id.</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        var best = 0;
        for (var i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }
}
