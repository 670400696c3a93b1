namespace Mha2Mla.Conversion;

/// <summary>
/// Each layer's calibration statistics — 2-norm pair norms (scored as each conversion asks) and, when kept, the inputs'
/// covariance XᵀX/n (d × d, fp64) — measured on the original model once and reused by every
/// later conversion of the same model on the same calibration data (a sweep's points, the passes
/// of one conversion). Pair norms are tiny; covariances cost L·d²·8 bytes (8B Llama: 4.3 GB), so only
/// a cache made to keep them does (a sweep); otherwise a pass that needs them calibrates again
/// and memory stays one layer.
/// </summary>
public sealed class CalibrationCache(bool keepCovariance) : IDisposable
{
    private readonly Dictionary<int, (PairNormStatistics Norms, Tensor? Covariance)> layers = [];

    /// <summary>Whether covariances are kept — and measured even for conversions that do not need them, since a later one will.</summary>
    public bool KeepCovariance { get; } = keepCovariance;

    /// <summary>Whether every one of <paramref name="count"/> layers is here, with covariances where <paramref name="covariance"/> asks.</summary>
    public bool Covers(int count, bool covariance) =>
        Enumerable.Range(0, count).All(l => layers.TryGetValue(l, out var s) && (!covariance || s.Covariance is not null));

    public (PairNormStatistics Norms, Tensor? Covariance) this[int layer] => layers[layer];

    /// <summary>Keeps the pair norms, and a copy of the covariance where <see cref="KeepCovariance"/>.</summary>
    public void Put(int layer, PairNormStatistics norms, Tensor? covariance)
    {
        if (layers.Remove(layer, out var old)) old.Covariance?.Dispose();
        layers[layer] = (norms, KeepCovariance ? covariance?.clone().DetachFromDisposeScope() : null);
    }

    public void Dispose()
    {
        foreach (var (_, covariance) in layers.Values) covariance?.Dispose();
        layers.Clear();
    }
}
