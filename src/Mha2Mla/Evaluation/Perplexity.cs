using System.Diagnostics;

namespace Mha2Mla.Evaluation;

public sealed record PerplexityResult(double Perplexity, double MeanLoss, long Tokens, int Sequences, double Seconds)
{
    public double TokensPerSecond => Seconds > 0 ? Tokens / Seconds : 0;
}

/// <summary>
/// Perplexity of a model on token sequences. Each sequence is scored on its own: the loss covers
/// every position after the first (position t predicts token t+1), and perplexity is
/// exp(total negative log-likelihood / scored tokens).
/// </summary>
public static class Perplexity
{
    /// <param name="progress">Called after each sequence with (sequences done, tokens scored so far).</param>
    /// <param name="cache">Attend through a KV cache of this format, as decoding would (quantized keys and values, or latents); null: exact.</param>
    public static PerplexityResult Evaluate(LlamaModel model, IEnumerable<int[]> sequences, Action<int, long>? progress = null, CacheFormat? cache = null)
    {
        var clock = Stopwatch.StartNew();
        double totalNll = 0;
        long tokens = 0;
        var count = 0;
        using var noGrad = torch.no_grad();
        foreach (var sequence in sequences)
        {
            count++;
            if (sequence.Length >= 2)
            {
                totalNll += SequenceNll(model, sequence, cache);
                tokens += sequence.Length - 1;
            }
            progress?.Invoke(count, tokens);
        }
        if (tokens == 0)
            throw new InvalidInputException("the data holds no sequence of two or more tokens, so there is nothing to score");
        var meanLoss = totalNll / tokens;
        return new PerplexityResult(Math.Exp(meanLoss), meanLoss, tokens, count, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Summed negative log-likelihood of tokens 1..T−1 of one sequence.</summary>
    public static double SequenceNll(LlamaModel model, int[] sequence, CacheFormat? cache = null)
    {
        using var scope = torch.NewDisposeScope();
        var length = sequence.Length;
        var ids = torch.tensor<long>(Array.ConvertAll(sequence, id => (long)id), [1, length]).to(model.Device);
        using var kv = cache is null ? null : new KvCache(model.Config, [0], length, cache, model.Device);
        var all = kv is null ? model.Forward(ids) : model.Forward(ids, kv);
        var logits = all.select(0, 0).narrow(0, 0, length - 1).to(ScalarType.Float32);   // (T−1, vocab); the loss in fp32 whatever the model's dtype
        var targets = ids.select(0, 0).narrow(0, 1, length - 1);
        var nll = torch.nn.functional.cross_entropy(logits, targets, torch.nn.functional.Reduction.Sum);
        return nll.item();
    }
}
