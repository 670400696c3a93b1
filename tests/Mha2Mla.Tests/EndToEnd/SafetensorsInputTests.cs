using System.Text;
using System.Text.Json.Nodes;

namespace Mha2Mla.Tests.EndToEnd;

/// <summary>
/// Every broken input a user can hand us ends in exit code 2 and one line saying what is wrong:
/// never a crash, never a stack trace. Each test breaks a valid checkpoint in one way.
/// </summary>
public class SafetensorsInputTests : IClassFixture<SafetensorsInputTests.Pristine>
{
    /// <summary>One valid checkpoint (made by the reference), copied and broken per test.</summary>
    public sealed class Pristine : IDisposable
    {
        public TempDir Dir { get; } = new();
        public string Model { get; }
        public string Data { get; }

        public Pristine()
        {
            Model = Reference.MakeCheckpoint(Dir.Sub("model"), TinyConfigs.Llama(4, 2));
            Data = Dir.File("ids.json");
            File.WriteAllText(Data, "[[1, 2, 3, 4, 5]]");
        }

        public void Dispose() => Dir.Dispose();
    }

    private readonly Pristine pristine;
    private readonly TempDir scratch = new();

    public SafetensorsInputTests(Pristine pristine) => this.pristine = pristine;

    private string CopyModel()
    {
        var target = scratch.Sub("model");
        foreach (var file in Directory.GetFiles(pristine.Model))
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        return target;
    }

    private static string Weights(string model) => Path.Combine(model, "model.safetensors");

    private ProcessResult Eval(string model) => global::Mha2Mla.Tests.Support.Cli.Run("eval", model, "--data", pristine.Data);

    private static void Expect(ProcessResult result, string fragment) =>
        global::Mha2Mla.Tests.Support.Cli.AssertBadInput(result, fragment);

    [Fact]
    public void TheValidCheckpointItselfEvaluates()
    {
        var result = Eval(pristine.Model);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    [Fact]
    public void TruncatedFile()
    {
        var model = CopyModel();
        SafetensorsSurgery.Truncate(Weights(model), 100);
        Expect(Eval(model), "truncated");
    }

    [Fact]
    public void FileShorterThanTheLengthPrefix()
    {
        var model = CopyModel();
        File.WriteAllBytes(Weights(model), [1, 2, 3]);
        Expect(Eval(model), "too short");
    }

    [Fact]
    public void HeaderLengthOfTwoToTheSixtyThird()
    {
        var model = CopyModel();
        SafetensorsSurgery.SetHeaderLength(Weights(model), 1UL << 63);
        Expect(Eval(model), "over the");
    }

    [Fact]
    public void HeaderLongerThanTheFile()
    {
        var model = CopyModel();
        SafetensorsSurgery.SetHeaderLength(Weights(model), 50_000_000);
        Expect(Eval(model), "truncated");
    }

    [Fact]
    public void HeaderThatIsNotJson()
    {
        var model = CopyModel();
        var (header, data) = SafetensorsSurgery.Split(Weights(model));
        var garbage = Encoding.UTF8.GetBytes(new string('#', header.ToJsonString().Length));
        SafetensorsSurgery.WriteRaw(Weights(model), garbage, data);
        Expect(Eval(model), "not valid JSON");
    }

    [Fact]
    public void OffsetsPastTheEnd()
    {
        var model = CopyModel();
        SafetensorsSurgery.EditHeader(Weights(model), h =>
        {
            var offsets = h["model.norm.weight"]!["data_offsets"]!.AsArray();
            var size = offsets[1]!.GetValue<long>() - offsets[0]!.GetValue<long>();
            h["model.norm.weight"]!["data_offsets"] = new JsonArray(10_000_000, 10_000_000 + size);
        });
        Expect(Eval(model), "'model.norm.weight' ends at byte");
    }

    [Fact]
    public void OverlappingTensors()
    {
        var model = CopyModel();
        SafetensorsSurgery.EditHeader(Weights(model), h =>
        {
            var first = h["model.layers.0.input_layernorm.weight"]!["data_offsets"]!.AsArray();
            var begin = first[0]!.GetValue<long>() + 2; // same size, shifted by one bf16 element
            h["model.layers.0.post_attention_layernorm.weight"]!["data_offsets"] = new JsonArray(begin, begin + 128);
        });
        Expect(Eval(model), "overlap");
    }

    [Fact]
    public void UnknownDtype()
    {
        var model = CopyModel();
        SafetensorsSurgery.EditHeader(Weights(model), h => h["model.norm.weight"]!["dtype"] = "Q7");
        Expect(Eval(model), "unknown dtype 'Q7'");
    }

    [Fact]
    public void KnownButUnsupportedDtype()
    {
        var model = CopyModel();
        SafetensorsSurgery.EditHeader(Weights(model), h => h["model.norm.weight"]!["dtype"] = "I16");
        Expect(Eval(model), "F32, F16 and BF16 are supported");
    }

    [Fact]
    public void MissingTensor()
    {
        var model = CopyModel();
        SafetensorsSurgery.EditHeader(Weights(model), h => h.Remove("model.layers.1.mlp.up_proj.weight"));
        Expect(Eval(model), "no tensor 'model.layers.1.mlp.up_proj.weight'");
    }

    [Fact]
    public void ConfigAndWeightsDisagreeOnAShape()
    {
        var model = CopyModel();
        EditConfig(model, c => c["intermediate_size"] = 128);
        Expect(Eval(model), "config.json and the weights disagree");
    }

    [Fact]
    public void UnsupportedModelType()
    {
        var model = CopyModel();
        EditConfig(model, c => c["model_type"] = "qwen3");
        Expect(Eval(model), "QK-norm");
        Expect(global::Mha2Mla.Tests.Support.Cli.Run("inspect", model), "model_type is 'qwen3'");
    }

    [Fact]
    public void UnsupportedRopeScaling()
    {
        var model = CopyModel();
        EditConfig(model, c => c["rope_scaling"] = new JsonObject { ["type"] = "mrope", ["mrope_section"] = new JsonArray(16, 24, 24) });   // Qwen2-VL's
        Expect(Eval(model), "rope_scaling.rope_type is 'mrope'");
        // longrope is read, and without its factors refused naming the field.
        EditConfig(model, c => c["rope_scaling"] = new JsonObject { ["rope_type"] = "longrope", ["factor"] = 4.0 });
        Expect(Eval(model), "rope_scaling.short_factor is missing");
    }

    [Fact]
    public void PickleCheckpointsAreRefusedWithAReason()
    {
        var model = scratch.Sub("pickle");
        File.Copy(Path.Combine(pristine.Model, "config.json"), Path.Combine(model, "config.json"));
        File.WriteAllBytes(Path.Combine(model, "pytorch_model.bin"), [0x80, 0x02]);
        Expect(Eval(model), "unpickling runs arbitrary code");
    }

    [Fact]
    public void MissingModelDirectory() => Expect(Eval(scratch.File("nowhere")), "no such directory");

    [Fact]
    public void TokenIdOutsideTheVocabulary()
    {
        var data = scratch.File("bad.json");
        File.WriteAllText(data, "[[1, 2, 500]]");
        Expect(global::Mha2Mla.Tests.Support.Cli.Run("eval", pristine.Model, "--data", data), "token id 500");
    }

    [Fact]
    public void DataThatIsNotJson()
    {
        var data = scratch.File("bad.jsonl");
        File.WriteAllText(data, "{\"input_ids\": [1, 2]}\nnot json\n");
        Expect(global::Mha2Mla.Tests.Support.Cli.Run("eval", pristine.Model, "--data", data), "bad.jsonl:2");
    }

    [Fact]
    public void UnknownOptionIsBadUsage() =>
        Expect(global::Mha2Mla.Tests.Support.Cli.Run("eval", pristine.Model, "--data", pristine.Data, "--bogus"), "--bogus");

    [Fact]
    public void VerboseAddsTheStackTrace()
    {
        var result = global::Mha2Mla.Tests.Support.Cli.Run("eval", scratch.File("nowhere"), "--data", pristine.Data, "--verbose");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("   at ", result.Stderr);
    }

    private static void EditConfig(string model, Action<JsonObject> edit)
    {
        var path = Path.Combine(model, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(config);
        File.WriteAllText(path, config.ToJsonString());
    }
}
