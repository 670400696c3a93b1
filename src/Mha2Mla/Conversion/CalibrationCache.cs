namespace Mha2Mla.Conversion;

/// <summary>
/// One layer measured on the calibration data: its pair norms (2-norm's scores), and where asked
/// the mean rotations of its pairs (RoPE compensation) and XᵀX/n of its inputs (fp64, d × d).
/// </summary>
public sealed record LayerCalibration(PairNormStatistics Norms, MeanRotations? Rotations, Tensor? Covariance);

/// <summary>
/// Each layer's calibration statistics (<see cref="LayerCalibration"/>) measured on the original
/// model once and reused by every later conversion of the same model on the same calibration data
/// (a sweep's points, the passes of one conversion). Pair norms and rotations are tiny;
/// covariances cost L·d²·8 bytes (8B Llama: 4.3 GB), so only a cache made to keep them does (a
/// sweep); otherwise a pass that needs them calibrates again and memory stays one layer.
/// </summary>
public sealed class CalibrationCache(bool keepCovariance, bool keepRotations = false) : IDisposable
{
    private readonly Dictionary<int, LayerCalibration> layers = [];

    /// <summary>Whether covariances are kept — and measured even for conversions that do not need them, since a later one will.</summary>
    public bool KeepCovariance { get; } = keepCovariance;

    /// <summary>Whether mean rotations are measured for every conversion, since a later one will need them.</summary>
    public bool KeepRotations { get; } = keepRotations;

    /// <summary>Whether every one of <paramref name="count"/> layers is here, with covariances and rotations where asked.</summary>
    public bool Covers(int count, bool covariance, bool rotations) =>
        Enumerable.Range(0, count).All(l => layers.TryGetValue(l, out var s) && (!covariance || s.Covariance is not null) && (!rotations || s.Rotations is not null));

    public LayerCalibration this[int layer] => layers[layer];

    /// <summary>Keeps the statistics, with a copy of the covariance where <see cref="KeepCovariance"/>.</summary>
    public void Put(int layer, LayerCalibration calibration)
    {
        if (layers.Remove(layer, out var old)) old.Covariance?.Dispose();
        layers[layer] = calibration with { Covariance = KeepCovariance ? calibration.Covariance?.clone().DetachFromDisposeScope() : null };
    }

    public void Dispose()
    {
        foreach (var layer in layers.Values) layer.Covariance?.Dispose();
        layers.Clear();
    }
}
