namespace Mha2Mla.Torch;

// Gradients, named as in TorchSharp.
public sealed partial class Tensor
{
    /// <summary>Marks a leaf tensor as a parameter whose gradient backward() should compute.</summary>
    public Tensor requires_grad_(bool requiresGrad = true)
    {
        TorchException.Check(NativeMethods.mm_set_requires_grad(this, requiresGrad ? 1 : 0));
        return this;
    }

    public void backward() => TorchException.Check(NativeMethods.mm_backward(this));

    /// <summary>The accumulated gradient (sharing memory with it), or null before any backward().</summary>
    public Tensor? grad
    {
        get
        {
            var has = NativeMethods.mm_has_grad(this);
            TorchException.Check(has);
            return has == 1 ? Wrap(NativeMethods.mm_grad(this)) : null;
        }
    }

    /// <summary>Forgets the gradient, as PyTorch's zero_grad(set_to_none=True).</summary>
    public void zero_grad() => TorchException.Check(NativeMethods.mm_zero_grad(this));

    /// <summary>Copies <paramref name="source"/>'s values into this tensor, outside autograd.</summary>
    public Tensor copy_(Tensor source)
    {
        TorchException.Check(NativeMethods.mm_copy_(this, source));
        return this;
    }
}
