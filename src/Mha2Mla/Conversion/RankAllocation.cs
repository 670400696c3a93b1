namespace Mha2Mla.Conversion;

/// <summary>
/// Chooses each layer's latent width under a total: the widths grow in steps, and each step goes
/// to the layer whose next step removes the most truncation error — the sum of the squared
/// singular values it keeps. Within a layer those gains never grow (singular values are sorted),
/// so taking the largest gain each time minimizes the total error for the total (an exchange
/// argument; the tests check it against exhaustive search).
/// </summary>
public static class RankAllocation
{
    /// <param name="stepGains">Per layer: the error each successive step would remove, non-increasing.
    /// A layer's width can grow by as many steps as it has gains.</param>
    /// <param name="step">Elements per step (n_kv, so every KV head's share stays whole).</param>
    /// <param name="total">Latent elements per token over all layers; rounded down to whole steps.</param>
    /// <returns>Each layer's width: at least one step, at most its gains' count of steps.</returns>
    public static int[] Allocate(IReadOnlyList<double[]> stepGains, int step, long total)
    {
        var layers = stepGains.Count;
        var steps = new int[layers];
        Array.Fill(steps, 1); // every layer keeps a latent: a zero-width one would drop its values
        var remaining = total / step - layers;
        var available = stepGains.Sum(g => (long)g.Length);
        if (remaining < 0)
            throw new InvalidInputException($"--kv-budget leaves {Math.Max(0, total)} latent elements per token for {layers} layers, less than the smallest latent ({step} per layer); raise the budget or lower --rope-pairs");
        if (remaining > available - layers)
            throw new InvalidInputException($"--kv-budget asks for {total / step * step} latent elements per token, more than full rank in every layer ({available * step}); lower the budget (full rank reproduces the original keys and values)");
        var next = new PriorityQueue<int, (double Gain, int Layer)>(Comparer<(double Gain, int Layer)>.Create(
            (a, b) => a.Gain != b.Gain ? b.Gain.CompareTo(a.Gain) : a.Layer.CompareTo(b.Layer))); // largest gain first, then the lower layer
        for (var l = 0; l < layers; l++)
            if (stepGains[l].Length > 1) next.Enqueue(l, (stepGains[l][1], l));
        for (; remaining > 0; remaining--)
        {
            var l = next.Dequeue();
            steps[l]++;
            if (steps[l] < stepGains[l].Length) next.Enqueue(l, (stepGains[l][steps[l]], l));
        }
        return Array.ConvertAll(steps, s => s * step);
    }

    /// <summary>Per-step gains from one layer's squared singular values: each step takes <paramref name="step"/> more.</summary>
    public static double[] StepGains(double[] squaredSingularValues, int step) =>
        Enumerable.Range(0, squaredSingularValues.Length / step)
            .Select(s => squaredSingularValues.Skip(s * step).Take(step).Sum()).ToArray();
}
