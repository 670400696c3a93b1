using System.Text.Json.Nodes;

namespace Mha2Mla.Decoding;

/// <summary>The ids that end generation: eos_token_id of generation_config.json, else of config.json (an id or a list).</summary>
public static class EosTokens
{
    /// <summary>Every id must be one of the model's <paramref name="vocabSize"/>: one outside it could never be generated, so generation would not stop.</summary>
    public static IReadOnlySet<int> Read(string modelDirectory, int vocabSize)
    {
        foreach (var file in new[] { "generation_config.json", "config.json" })
        {
            var path = Path.Combine(modelDirectory, file);
            if (!File.Exists(path)) continue;
            var eos = UserFiles.ReadJsonObject(path)["eos_token_id"];
            if (eos is null) continue;
            var values = eos is JsonArray list ? list.ToList() : [eos];
            var ids = new HashSet<int>();
            foreach (var value in values)
            {
                if (value is not JsonValue v || !v.TryGetValue<long>(out var id))
                    throw new InvalidInputException($"{path}: eos_token_id holds {value?.ToJsonString() ?? "null"}, which is not a token id; fix the file (an id, or a list of ids)");
                if (id < 0 || id >= vocabSize)
                    throw new InvalidInputException($"{path}: eos_token_id {id} is not an id of the model's vocabulary (0..{vocabSize - 1}), so generation would never stop; fix the file");
                ids.Add((int)id);
            }
            if (ids.Count > 0) return ids;
        }
        return new HashSet<int>();
    }
}
