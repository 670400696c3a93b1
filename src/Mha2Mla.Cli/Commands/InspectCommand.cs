using Mha2Mla.Checkpoints;

namespace Mha2Mla.Cli.Commands;

/// <summary>`mha2mla inspect MODEL`: architecture, size and KV-cache cost, without loading weights.</summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "A Hugging Face checkpoint directory (config.json + *.safetensors), a hub id (org/name[@revision]) in the local hub cache, or 'demo'" };
        var context = new Option<long?>("--context")
        {
            Description = "Context length for the KV-cache total (default: the model's max_position_embeddings)",
        };
        var cacheDType = new Option<string?>("--cache-dtype")
        {
            Description = "Element type of the KV cache: bf16, f16 or f32 (default: the weights' dtype on disk)",
        };
        cacheDType.AcceptOnlyFromAmong("bf16", "f16", "f32");

        var command = new Command("inspect", "Show a checkpoint's architecture, parameter count and KV-cache size per token and at a context length")
        {
            model, context, cacheDType,
        };
        command.SetAction(parsed =>
        {
            using var checkpoint = Checkpoint.Open(parsed.GetRequiredValue(model));
            var length = parsed.GetValue(context) ?? checkpoint.Config.MaxPositionEmbeddings;
            if (length <= 0) throw new InvalidInputException($"--context must be positive, not {length}");
            var summary = ModelSummary.Of(checkpoint, DTypeOptions.Parse(parsed.GetValue(cacheDType)), length);
            if (parsed.GetValue(CommonOptions.Json)) JsonOutput.Write(summary.Result());
            else Console.WriteLine(summary.Text());
            return ExitCodes.Success;
        });
        return command;
    }
}
