namespace Mha2Mla.Models;

/// <summary>
/// A part of a model, as torch.nn.Module: it registers its children under the names a Hugging
/// Face checkpoint gives them, so that <see cref="NamedParameters"/> — what loading, saving, the
/// fine-tune's parameter groups and the DeepSeek-V3 export all walk — spells each name once, where
/// the child is made. Leaves (<see cref="Linear"/>, RMSNorm) hold the tensors.
/// </summary>
public abstract class Module : IDisposable
{
    private readonly List<(string Name, Module Child)> children = [];

    /// <summary>Makes the child <paramref name="name"/> from <paramref name="source"/>'s tensors under that name, and registers it.</summary>
    protected T Child<T>(string name, WeightSource source, Func<WeightSource, T> make) where T : Module => Register(name, make(source.Under(name)));

    /// <summary>Registers a child made elsewhere (replacing one of the same name).</summary>
    protected T Register<T>(string name, T child) where T : Module
    {
        var at = children.FindIndex(c => c.Name == name);
        if (at >= 0) children[at] = (name, child);
        else children.Add((name, child));
        return child;
    }

    /// <summary>Every tensor under its checkpoint name, <paramref name="prefix"/> first ("model.layers.3" gives "model.layers.3.mlp.up_proj.weight").</summary>
    public virtual IEnumerable<(string Name, Tensor Value)> NamedParameters(string prefix = "") =>
        children.SelectMany(c => c.Child.NamedParameters(Join(prefix, c.Name)));

    /// <summary>
    /// Rounds every weight to <paramref name="dtype"/> and back, in place, so that what runs (or is
    /// mapped onto another layout) is exactly what a checkpoint of that dtype will hold.
    /// </summary>
    public void RoundWeightsTo(ScalarType dtype)
    {
        using var noGrad = torch.no_grad();
        foreach (var (_, weight) in NamedParameters())
        {
            using var rounded = weight.to(dtype);
            weight.copy_(rounded);
        }
    }

    protected static string Join(string prefix, string name) => prefix.Length == 0 ? name : $"{prefix}.{name}";

    public virtual void Dispose()
    {
        foreach (var (_, child) in children) child.Dispose();
    }
}

/// <summary>y = x·Wᵀ + b, W in (out, in) layout as torch.nn.Linear.</summary>
public sealed class Linear : Module
{
    public Tensor Weight { get; private set; }
    public Tensor? Bias { get; private set; }

    public Linear(WeightSource source, long outFeatures, long inFeatures, bool bias)
    {
        Weight = source.Take("weight", outFeatures, inFeatures);
        Bias = bias ? source.Take("bias", outFeatures) : null;
    }

    public Tensor Forward(Tensor x) => torch.nn.functional.linear(x, Weight, Bias);

    /// <summary>
    /// Puts computed weights in place of what the module was made with (the placeholders of
    /// <see cref="WeightSource.Placeholders"/>, say), as PyTorch code assigns a module's weight.
    /// </summary>
    public void Set(Tensor weight, Tensor? bias)
    {
        if ((bias is null) != (Bias is null)) throw new ArgumentException(Bias is null ? "this projection has no bias" : "this projection needs a bias");
        Weight.Dispose();
        Bias?.Dispose();
        (Weight, Bias) = (weight, bias);
    }

    public override IEnumerable<(string Name, Tensor Value)> NamedParameters(string prefix = "")
    {
        yield return (Join(prefix, "weight"), Weight);
        if (Bias is { } bias) yield return (Join(prefix, "bias"), bias);
    }

    public override void Dispose()
    {
        Weight.Dispose();
        Bias?.Dispose();
    }
}
