namespace Mha2Mla.Torch;

/// <summary>
/// Frees, when disposed, every tensor it owns: those created on this thread while it was the
/// innermost scope, and those moved into it. A forward pass can make hundreds of intermediates
/// without a <c>using</c> on each. As in TorchSharp, a tensor knows the scope that owns it, so
/// <see cref="Tensor.DetachFromDisposeScope"/> and <see cref="Tensor.MoveToOuterDisposeScope"/>
/// work from anywhere.
/// </summary>
public sealed class DisposeScope : IDisposable
{
    [ThreadStatic] private static DisposeScope? current;

    private readonly DisposeScope? outer;
    private readonly HashSet<Tensor> owned = new(ReferenceEqualityComparer.Instance);
    private bool disposed;

    internal DisposeScope()
    {
        outer = current;
        current = this;
    }

    internal static DisposeScope? Current => current;

    internal void Register(Tensor tensor)
    {
        owned.Add(tensor);
        tensor.OwningDisposeScope = this;
    }

    /// <summary>Gives <paramref name="tensor"/> to the enclosing scope (or to nobody, at the top).</summary>
    public Tensor MoveToOuter(Tensor tensor)
    {
        if (!owned.Remove(tensor)) return tensor;
        tensor.OwningDisposeScope = null;
        outer?.Register(tensor);
        return tensor;
    }

    /// <summary>Takes <paramref name="tensor"/> out of this scope: the caller now owns it.</summary>
    public Tensor Detach(Tensor tensor)
    {
        if (owned.Remove(tensor)) tensor.OwningDisposeScope = null;
        return tensor;
    }

    public int Count => owned.Count;

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var tensor in owned)
        {
            tensor.OwningDisposeScope = null;
            tensor.Dispose();
        }
        owned.Clear();
        // Scopes nest; if an inner one was leaked, unwind past it too.
        if (ReferenceEquals(current, this)) current = outer;
    }
}
