using Mha2Mla.Torch;

namespace Mha2Mla.Models;

/// <summary>SwiGLU: down(silu(gate(x)) · up(x)).</summary>
public sealed class Mlp(Linear gate, Linear up, Linear down) : IDisposable
{
    public Linear Gate { get; } = gate;
    public Linear Up { get; } = up;
    public Linear Down { get; } = down;

    public Tensor Forward(Tensor x) => Down.Forward(torch.nn.functional.silu(Gate.Forward(x)) * Up.Forward(x));

    public void Dispose()
    {
        Gate.Dispose();
        Up.Dispose();
        Down.Dispose();
    }
}
