namespace Mha2Mla.Torch;

/// <summary>
/// Frees, when disposed, every tensor created on this thread while it was the innermost scope,
/// so a forward pass can make hundreds of intermediates without a <c>using</c> on each.
/// Tensors that must outlive the scope are handed out with <see cref="MoveToOuter"/>.
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

    internal void Register(Tensor tensor) => owned.Add(tensor);

    /// <summary>Gives <paramref name="tensor"/> to the enclosing scope (or to nobody, at the top).</summary>
    public Tensor MoveToOuter(Tensor tensor)
    {
        if (owned.Remove(tensor)) outer?.Register(tensor);
        return tensor;
    }

    /// <summary>Takes <paramref name="tensor"/> out of every scope: the caller now owns it.</summary>
    public Tensor Detach(Tensor tensor)
    {
        owned.Remove(tensor);
        return tensor;
    }

    public int Count => owned.Count;

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var tensor in owned) tensor.Dispose();
        owned.Clear();
        // Scopes nest; if an inner one was leaked, unwind past it too.
        if (ReferenceEquals(current, this)) current = outer;
    }
}
