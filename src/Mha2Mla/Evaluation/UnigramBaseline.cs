namespace Mha2Mla.Evaluation;

/// <summary>
/// The perplexity a model that ignores context would get: token frequencies from training
/// sequences with add-one smoothing, scored on the same positions <see cref="Perplexity"/>
/// scores (every position after the first of each sequence). A trained model must beat it by far.
/// </summary>
public static class UnigramBaseline
{
    public static double Perplexity(IEnumerable<int[]> training, IEnumerable<int[]> heldOut, int vocabSize)
    {
        var counts = new long[vocabSize];
        long total = 0;
        foreach (var sequence in training)
            foreach (var id in sequence)
            {
                counts[id]++;
                total++;
            }
        double nll = 0;
        long scored = 0;
        foreach (var sequence in heldOut)
            for (var t = 1; t < sequence.Length; t++)
            {
                nll -= Math.Log((counts[sequence[t]] + 1.0) / (total + vocabSize));
                scored++;
            }
        if (scored == 0) throw new InvalidInputException("the held-out data holds no sequence of two or more tokens");
        return Math.Exp(nll / scored);
    }
}
