using System.Text.Json;

namespace Mha2Mla.Evaluation;

/// <summary>
/// Pre-tokenized sequences from a file: <c>.json</c> holding an array of arrays of token ids, or
/// <c>.jsonl</c> holding one <c>{"input_ids": [...]}</c> per line (read line by line).
/// </summary>
public static class TokenSequences
{
    public static IEnumerable<int[]> Read(string path, int vocabSize)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: no such file");
        var extension = Path.GetExtension(path).ToLowerInvariant();
        var sequences = extension switch
        {
            ".json" => ReadJsonArray(path),
            ".jsonl" => ReadJsonLines(path),
            _ => throw new InvalidInputException($"{path}: token data must be .json (an array of arrays of ids) or .jsonl (one {{\"input_ids\": [...]}} per line)"),
        };
        var index = 0;
        foreach (var sequence in sequences)
        {
            foreach (var id in sequence)
                if (id < 0 || id >= vocabSize)
                    throw new InvalidInputException($"{path}: sequence {index} holds token id {id}, outside the model's vocabulary (0..{vocabSize - 1}); was it tokenized for another model?");
            index++;
            yield return sequence;
        }
    }

    private static IEnumerable<int[]> ReadJsonArray(string path)
    {
        JsonDocument document;
        try
        {
            using var stream = File.OpenRead(path);
            document = JsonDocument.Parse(stream);
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{path}: not valid JSON ({e.Message.Split('\n')[0]})");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Array)
                throw new InvalidInputException($"{path}: expected a JSON array of arrays of token ids");
            var index = 0;
            foreach (var item in document.RootElement.EnumerateArray())
                yield return Ids(item, path, $"sequence {index++}");
        }
    }

    private static IEnumerable<int[]> ReadJsonLines(string path)
    {
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            int[] ids;
            try
            {
                using var document = JsonDocument.Parse(line);
                if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("input_ids", out var array))
                    throw new InvalidInputException($"{path}:{lineNumber}: expected an object with an \"input_ids\" array");
                ids = Ids(array, path, $"line {lineNumber}");
            }
            catch (JsonException e)
            {
                throw new InvalidInputException($"{path}:{lineNumber}: not valid JSON ({e.Message.Split('\n')[0]})");
            }
            yield return ids;
        }
    }

    private static int[] Ids(JsonElement array, string path, string where)
    {
        if (array.ValueKind != JsonValueKind.Array)
            throw new InvalidInputException($"{path}: {where} is not an array of token ids");
        var ids = new int[array.GetArrayLength()];
        var i = 0;
        foreach (var id in array.EnumerateArray())
        {
            if (id.ValueKind != JsonValueKind.Number || !id.TryGetInt32(out ids[i]))
                throw new InvalidInputException($"{path}: {where} holds {id.GetRawText()}, which is not an integer token id");
            i++;
        }
        return ids;
    }
}
