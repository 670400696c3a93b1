using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>
/// What one layer's queries may attend to. Plain causal attention (queries 0 … T−1 over the same
/// T keys, nothing else forbidden) needs no tensor at all on the fused kernels (SDPA's
/// is_causal), so the (T, T_keys) tensors are built only when an attention form asks for them,
/// once each, and owned here.
/// </summary>
public sealed class AttentionMask(Func<Tensor> buildForbidden, bool plainCausal) : IDisposable
{
    private Tensor? forbidden;
    private Tensor? allowed;

    /// <summary>True when this is exactly the causal mask over the same tokens.</summary>
    public bool PlainCausal { get; } = plainCausal;

    /// <summary>True where attention is forbidden (the explicit form's masked_fill convention).</summary>
    public Tensor Forbidden => forbidden ??= Detached(buildForbidden);

    /// <summary>True where attention is allowed (PyTorch's scaled_dot_product_attention convention).</summary>
    public Tensor Allowed => allowed ??= Detached(() => Forbidden.logical_not());

    // Whatever dispose scope asks first, the mask lives as long as this object.
    private static Tensor Detached(Func<Tensor> build)
    {
        using var scope = torch.NewDisposeScope();
        return build().DetachFromDisposeScope();
    }

    public void Dispose()
    {
        forbidden?.Dispose();
        allowed?.Dispose();
        (forbidden, allowed) = (null, null);
    }
}
