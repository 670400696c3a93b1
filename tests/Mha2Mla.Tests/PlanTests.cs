using Mha2Mla.Conversion;
using Mha2Mla.Data;
using Mha2Mla.Decoding;
using Mha2Mla.Evaluation;
using Mha2Mla.Training;

namespace Mha2Mla.Tests;

/// <summary>
/// Options → plan → job: for each command, what the CLI binds with every optional value left
/// out goes through the command's one resolve step, and the plan that comes back holds every
/// default filled in (nothing downstream defaults or checks again), with the values README
/// documents: the window min(2048, max_position_embeddings), fp32 compute on CPU, the paper's
/// r = d_h/16 and d_kv = d_h/8. A value out of range is refused there, naming its flag.
/// </summary>
public class PlanTests(PlanTests.Model fixture) : IClassFixture<PlanTests.Model>
{
    /// <summary>One tiny checkpoint (max_position_embeddings 256, d_h 16) and data for every test here.</summary>
    public sealed class Model : IDisposable
    {
        public TempDir Dir { get; } = new();
        public string Path { get; }
        public string Data { get; }

        public Model()
        {
            Path = Reference.MakeCheckpoint(Dir.Sub("model"), TinyConfigs.Llama(4, 2), "f32");
            Data = Dir.File("ids.json");
            Reference.Run("ids", Data, "--count", "3", "--length", "12", "--vocab", "97");
        }

        public void Dispose() => Dir.Dispose();
    }

    private readonly TempDir dir = fixture.Dir;
    private readonly string model = fixture.Path;
    private readonly string data = fixture.Data;

    [Fact]
    public void EvalFillsTheWindowAndTheComputeDtype()
    {
        using var plan = EvaluationJob.Plan(new EvaluationOptions { Model = model, Data = new DataOptions { Path = data } });
        Assert.Equal(256, plan.Options.Data.SeqLen);
        Assert.Equal(ScalarType.Float32, plan.Options.ComputeType);
        Assert.Null(plan.Options.Cache);   // exact: null is the documented value, not a default left open
        var refused = Assert.Throws<InvalidInputException>(() => EvaluationJob.Plan(new EvaluationOptions { Model = model, Data = new DataOptions { Path = data, SeqLen = 1 } }));
        Assert.Contains("--seq-len must be at least 2", refused.Message);
    }

    [Fact]
    public void GenerateFillsTheComputeDtypeAndChecksDecodingBeforeLoadingWeights()
    {
        var prompts = dir.File("prompts.json");
        File.WriteAllText(prompts, "[[1, 2, 3]]");
        using var plan = GenerationJob.Plan(new GenerationJobOptions { Model = model, PromptsFile = prompts });
        Assert.Equal(ScalarType.Float32, plan.Options.ComputeType);
        Assert.Equal(CacheFormat.F32.Name, plan.Decoding.Cache.Name);
        Assert.Equal(64, plan.Decoding.MaxNewTokens);
        // Past max_position_embeddings (256): refused by the plan, before any weight is read.
        var refused = Assert.Throws<InvalidInputException>(() => GenerationJob.Plan(new GenerationJobOptions { Model = model, PromptsFile = prompts, MaxNewTokens = 300 }));
        Assert.Contains("goes past max_position_embeddings", refused.Message);
        Assert.Throws<InvalidInputException>(() => GenerationJob.Plan(new GenerationJobOptions { Model = model, PromptsFile = prompts, Sampling = new SamplingOptions(TopP: 0) }));
    }

    [Fact]
    public void ConvertResolvesSettingsDataFineTuneAndDtypeInOnePlan()
    {
        using var checkpoint = Checkpoint.Open(model);
        var job = new ConversionJob
        {
            Model = model, Output = dir.File("out"),
            Calibration = new DataOptions { Path = data }, Evaluation = new DataOptions { Path = data },
            Training = new DataOptions { Path = data }, FineTune = new TrainingOptions { Steps = 2 },
        };
        var plan = job.Plan(checkpoint.Config);
        Assert.Equal((RopeStrategy.TwoNorm, 1, SvdMode.Joint), (plan.Settings.Strategy, plan.Settings.RopePairs, plan.Settings.Svd));
        // RoPE compensation: on where the strategy calibrates anyway (2-norm, rorope), off where it needs no data; asked for, as asked.
        Assert.True(plan.Settings.RopeCompensation);
        Assert.False((job with { Settings = new ConversionRequest(RopeCompensation: false) }).Plan(checkpoint.Config).Settings.RopeCompensation);
        Assert.True((job with { Settings = new ConversionRequest(RopeStrategy.RoRope) }).Plan(checkpoint.Config).Settings.RopeCompensation);
        foreach (var dataFree in new[] { RopeStrategy.High, RopeStrategy.Low, RopeStrategy.Uniform })
        {
            Assert.False((job with { Calibration = null, Settings = new ConversionRequest(dataFree) }).Plan(checkpoint.Config).Settings.RopeCompensation);
            Assert.True((job with { Settings = new ConversionRequest(dataFree, RopeCompensation: true) }).Plan(checkpoint.Config).Settings.RopeCompensation);
        }
        Assert.Equal(2 * 2, ((UniformRank)plan.Settings.Width).LatentDim(checkpoint.Config));   // n_kv · d_h/8
        Assert.All(new[] { plan.Calibration, plan.Evaluation, plan.Training }, d => Assert.Equal(256, d!.SeqLen));
        Assert.Equal(ScalarType.Float32, plan.ComputeType);
        Assert.Equal(ScalarType.Float32, plan.FineTune.ResolvedComputeType);
        var refused = Assert.Throws<InvalidInputException>(() => (job with { Calibration = new DataOptions { Path = data, MaxSequences = 0 } }).Plan(checkpoint.Config));
        Assert.Contains("--calib-samples must be at least 1", refused.Message);
        refused = Assert.Throws<InvalidInputException>(() => (job with { FineTune = new TrainingOptions { Steps = 2, KeepLast = 0 } }).Plan(checkpoint.Config));
        Assert.Contains("--keep must be at least 1", refused.Message);
        refused = Assert.Throws<InvalidInputException>(() => (job with { Calibration = null, Settings = new ConversionRequest(RopeStrategy.High, KvBalance: true) }).Plan(checkpoint.Config));
        Assert.Contains("--kv-balance measures the key and value norms on calibration data", refused.Message);
        refused = Assert.Throws<InvalidInputException>(() => (job with { Calibration = null, Settings = new ConversionRequest(RopeStrategy.High, RopeCompensation: true) }).Plan(checkpoint.Config));
        Assert.Contains("--rope-compensation measures the rotations queries see on calibration data", refused.Message);
        refused = Assert.Throws<InvalidInputException>(() => (job with { Settings = new ConversionRequest(RopeStrategy.Uniform, Score: RopeScore.Sum) }).Plan(checkpoint.Config));
        Assert.Contains("--rope-score ranks pairs for --rope-strategy 2-norm", refused.Message);
    }

    [Fact]
    public void TrainResolvesItsOptionsOnceAndTheLoopRunsOnlyResolvedOptions()
    {
        var resolved = new TrainingOptions().Resolve(Device.CPU);
        Assert.Equal(ScalarType.Float32, resolved.ComputeType);
        Assert.Equal(resolved, resolved.Resolve(Device.CPU));   // resolving is idempotent: nothing left to fill
        Assert.Throws<InvalidOperationException>(() => new TrainingOptions().ResolvedComputeType);
        using var checkpoint = Checkpoint.Open(model);
        Assert.Equal(256, new DataOptions { Path = data }.Resolve(checkpoint.Config).SeqLen);
        Assert.Equal(12, new DataOptions { Path = data, SeqLen = 12 }.Resolve(checkpoint.Config).SeqLen);
    }

}
