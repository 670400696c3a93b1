namespace Mha2Mla.Tests.Gpu;

/// <summary>
/// The CUDA path, where this libtorch sees a GPU; elsewhere (CI, the project's CPU machines) each
/// test is reported as skipped with the reason. On a GPU machine, run them from the test build
/// (no SDK needed: the test project is an executable):
/// <c>MHA2MLA_NATIVE_LIB=… dotnet Mha2Mla.Tests.dll -class Mha2Mla.Tests.Gpu.CudaTests</c>.
/// CUDA in fp32 must equal the CPU (perplexity within 1e-5 relative, conversions within 1e-4 with
/// the same chosen pairs); bf16 stays within 1 % of fp32; SDPA's fused kernels equal the explicit
/// form within 1e-4.
/// </summary>
public class CudaTests : IDisposable
{
    private readonly TempDir dir = new();

    private static void RequireGpu() =>
        Assert.SkipUnless(torch.cuda.is_available(), "no CUDA device visible to this libtorch (CPU-only build or machine); the CUDA checks run on a GPU machine");

    private static JsonElement Json(ProcessResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.Stdout).RootElement.Clone();
    }

    private (string Model, string Calib, string Eval) Case(string name = "gqa") =>
        Reference.ConversionCase(dir, TinyConfigs.Llama(4, 2).With("model_type", "mistral").With("sliding_window", 12), name);

    [Fact]
    public void EvalOnCudaEqualsCpuInFp32AndStaysNearItInBf16()
    {
        RequireGpu();
        var (model, _, eval) = Case();
        double Perplexity(params string[] options)
        {
            var json = Json(Support.Cli.Run(["eval", model, "--data", eval, "--json", .. options]));
            return json.GetProperty("perplexity").GetDouble();
        }
        var cpu = Perplexity("--device", "cpu");
        Assert.Equal(cpu, Perplexity("--device", "cuda", "--dtype", "f32"), cpu * 1e-5);
        var bf16 = Perplexity("--device", "cuda");   // bf16 is CUDA's default
        Assert.True(Math.Abs(bf16 / cpu - 1) <= 0.01, $"cuda bf16 {bf16} vs cpu fp32 {cpu}");
    }

    [Theory]
    [InlineData("gqa")]
    [InlineData("mla")]
    public void FusedAttentionOnCudaEqualsTheExplicitForm(string variant)
    {
        RequireGpu();
        var (model, calib, _) = Case();
        var path = model;
        if (variant == "mla")
        {
            path = dir.File("mla");
            Json(Support.Cli.Run("convert", model, "-o", path, "--rope-strategy", "2-norm", "--rope-pairs", "2", "--kv-rank", "8",
                "--calib-data", calib, "--latent-norm", "--json"));
        }
        using var checkpoint = Checkpoint.Open(path);
        using var loaded = LlamaModel.Load(checkpoint.Weights, checkpoint.Config, new Device(DeviceType.CUDA, 0));
        long[] tokens = [5, 17, 3, 60, 2, 44, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 88, 12, 40, 41, 42, 43, 44, 45];
        float[] Logits(AttentionKernel kernel)
        {
            loaded.AttentionKernel = kernel;
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            return loaded.Forward(torch.tensor<long>(tokens, [2, tokens.Length / 2]).to(loaded.Device)).data<float>();
        }
        var (expected, actual) = (Logits(AttentionKernel.Explicit), Logits(AttentionKernel.Sdpa));
        var worst = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1e-4, $"{variant}: max |Δlogit| {worst:E2} between the explicit form and SDPA on CUDA");
    }

    [Theory]
    [InlineData("joint")]
    [InlineData("activation")]
    public void ConvertOnCudaEqualsConvertOnCpu(string svd)
    {
        RequireGpu();
        var (model, calib, eval) = Case();
        JsonElement Convert(string device) => Json(Support.Cli.Run("convert", model, "-o", dir.File($"{svd}-{device}"), "--device", device, "--dtype", "f32",
            "--rope-strategy", "2-norm", "--rope-pairs", "2", "--kv-budget", "25%", "--svd", svd, "--latent-norm",
            "--calib-data", calib, "--eval-data", eval, "--seq-len", "20", "--json"));
        var (cpu, cuda) = (Convert("cpu"), Convert("cuda"));
        Assert.Equal(cpu.GetProperty("rope").GetProperty("pairs").GetRawText(), cuda.GetProperty("rope").GetProperty("pairs").GetRawText());
        Assert.Equal(cpu.GetProperty("settings").GetProperty("latent_dims").GetRawText(), cuda.GetProperty("settings").GetProperty("latent_dims").GetRawText());
        var (a, b) = (cpu.GetProperty("perplexity").GetProperty("converted").GetDouble(), cuda.GetProperty("perplexity").GetProperty("converted").GetDouble());
        Assert.True(Math.Abs(b / a - 1) <= 1e-4, $"converted perplexity: cpu {a}, cuda {b}");
        foreach (var stage in cuda.GetProperty("stages").EnumerateArray())
            Assert.True(stage.GetProperty("peak_gpu_bytes").GetInt64() > 0, stage.GetRawText());
        Assert.All(cpu.GetProperty("stages").EnumerateArray(), s => Assert.Equal(JsonValueKind.Null, s.GetProperty("peak_gpu_bytes").ValueKind));
    }

    [Fact]
    public void TrainingOnCudaInBf16StartsFromTheCpusLoss()
    {
        RequireGpu();
        var (model, _, eval) = Case();
        double FirstLoss(string device) => Json(Support.Cli.Run("train", model, "--data", eval, "-o", dir.File($"train-{device}"), "--steps", "1", "--batch", "3",
            "--seq-len", "20", "--device", device, "--dtype", "bf16", "--json")).GetProperty("first_loss").GetDouble();
        var (cpu, cuda) = (FirstLoss("cpu"), FirstLoss("cuda"));
        Assert.True(Math.Abs(cuda - cpu) <= 1e-2, $"first loss under bf16 autocast: cpu {cpu}, cuda {cuda}");
    }

    [Fact]
    public void DoctorDescribesEveryGpu()
    {
        RequireGpu();
        var json = Json(Support.Cli.Run("doctor", "--json"));
        var gpus = json.GetProperty("gpus").EnumerateArray().ToList();
        Assert.Equal(torch.cuda.device_count(), gpus.Count);
        Assert.All(gpus, g =>
        {
            Assert.False(string.IsNullOrWhiteSpace(g.GetProperty("name").GetString()));
            Assert.Matches(@"^\d+\.\d+$", g.GetProperty("compute_capability").GetString());
            Assert.True(g.GetProperty("memory_bytes").GetInt64() > 1L << 30);
        });
        Assert.NotNull(json.GetProperty("cuda_runtime").GetString());
    }

    public void Dispose() => dir.Dispose();
}
