namespace Mha2Mla.Training;

/// <summary>
/// AdamW over named parameters, with torch.optim.AdamW's update. Weight decay applies to
/// matrices only: norms and biases (1-D tensors) are not decayed. The moment estimates are
/// ordinary tensors, saved and restored by name for exact resume.
/// </summary>
public sealed class AdamW : IDisposable
{
    private sealed record Slot(string Name, Tensor Param, Tensor ExpAvg, Tensor ExpAvgSq, bool Decay);

    private readonly List<Slot> slots = [];
    private readonly TrainingOptions options;

    /// <summary>Optimizer steps taken so far.</summary>
    public long StepCount { get; private set; }

    public AdamW(IEnumerable<(string Name, Tensor Param)> parameters, TrainingOptions options)
    {
        this.options = options;
        foreach (var (name, param) in parameters)
        {
            var shape = param.shape;
            slots.Add(new Slot(name, param,
                torch.zeros(shape, ScalarType.Float32, param.device).DetachFromDisposeScope(),
                torch.zeros(shape, ScalarType.Float32, param.device).DetachFromDisposeScope(),
                Decay: shape.Length >= 2));
        }
    }

    public IEnumerable<Tensor> Parameters => slots.Select(s => s.Param);

    /// <summary>Applies one update with learning rate <paramref name="lr"/> to every parameter that has a gradient.</summary>
    public void Step(double lr)
    {
        StepCount++;
        foreach (var slot in slots)
        {
            using var grad = slot.Param.grad;
            if (grad is null) continue;
            torch.optim.functional.adamw_step(slot.Param, grad, slot.ExpAvg, slot.ExpAvgSq, StepCount,
                lr, options.Beta1, options.Beta2, options.Epsilon, slot.Decay ? options.WeightDecay : 0.0);
        }
    }

    public void ZeroGrad()
    {
        foreach (var slot in slots) slot.Param.zero_grad();
    }

    public IReadOnlyList<(string Name, Tensor Value)> StateTensors() =>
        slots.SelectMany(s => new[] { ($"exp_avg.{s.Name}", s.ExpAvg), ($"exp_avg_sq.{s.Name}", s.ExpAvgSq) }).ToList();

    /// <summary>Restores moments saved by <see cref="StateTensors"/> and the step count.</summary>
    public void Restore(SafetensorsFile state, long stepCount)
    {
        foreach (var (name, value) in StateTensors())
        {
            using var saved = state.Read(name);
            value.copy_(saved);
        }
        StepCount = stepCount;
    }

    public void Dispose()
    {
        foreach (var slot in slots)
        {
            slot.ExpAvg.Dispose();
            slot.ExpAvgSq.Dispose();
        }
    }
}
