using System.Text.Json.Nodes;

namespace Mha2Mla.Decoding;

/// <summary>The ids that end generation: eos_token_id of generation_config.json, else of config.json (an id or a list).</summary>
public static class EosTokens
{
    public static IReadOnlySet<int> Read(string modelDirectory)
    {
        foreach (var file in new[] { "generation_config.json", "config.json" })
        {
            var path = Path.Combine(modelDirectory, file);
            if (!File.Exists(path)) continue;
            JsonNode? eos;
            try { eos = JsonNode.Parse(File.ReadAllText(path))?["eos_token_id"]; }
            catch (System.Text.Json.JsonException) { continue; }
            catch (InvalidOperationException) { continue; }
            var ids = eos switch
            {
                JsonValue v when v.TryGetValue<int>(out var id) => [id],
                JsonArray a => a.Select(e => e is JsonValue x && x.TryGetValue<int>(out var id) ? id : -1).Where(id => id >= 0).ToHashSet(),
                _ => null,
            };
            if (ids is { Count: > 0 }) return ids;
        }
        return new HashSet<int>();
    }
}
