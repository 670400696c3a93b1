namespace Mha2Mla.Training;

/// <summary>Global-norm clipping, as torch.nn.utils.clip_grad_norm_.</summary>
public static class GradientClipping
{
    /// <summary>Scales all gradients so their joint L2 norm is at most <paramref name="maxNorm"/>; returns the norm before.</summary>
    public static double ClipByGlobalNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        using var scope = torch.NewDisposeScope();
        var grads = parameters.Select(p => p.grad).Where(g => g is not null).Select(g => g!).ToList();
        double sumSquares = 0;
        foreach (var g in grads) sumSquares += (g * g).sum().item();
        var norm = Math.Sqrt(sumSquares);
        if (maxNorm > 0)
        {
            var coefficient = maxNorm / (norm + 1e-6);
            if (coefficient < 1)
                foreach (var g in grads) g.mul_(coefficient);
        }
        return norm;
    }
}
