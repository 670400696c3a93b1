using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Mha2Mla.Data;

/// <summary>Element type of raw token files (.bin): a flat little-endian array of ids.</summary>
public enum TokenFileDType { UInt16, UInt32 }

/// <summary>
/// Streams the documents of one data file, never holding the whole file:
/// <list type="bullet">
/// <item>.txt — documents separated by one or more blank lines; invalid UTF-8 becomes U+FFFD.</item>
/// <item>.jsonl — one object per line with a text field (default "text") or "input_ids".</item>
/// <item>.json — an array of arrays of token ids (read element by element).</item>
/// <item>.bin — raw uint16 or uint32 token ids: one continuous token stream.</item>
/// </list>
/// </summary>
public static class DocumentReader
{
    private static readonly Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    public static IEnumerable<DataItem> Read(string path, string textField, TokenFileDType dtype) =>
        Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".txt" => ReadText(path),
            ".jsonl" => ReadJsonLines(path, textField),
            ".json" => ReadJsonArray(path),
            ".bin" => ReadTokenFile(path, dtype),
            var other => throw new InvalidInputException($"{path}: unknown data format '{other}'; use .txt, .jsonl, .json or .bin"),
        };

    private static IEnumerable<DataItem> ReadText(string path)
    {
        using var reader = new StreamReader(UserFiles.OpenRead(path), Utf8, detectEncodingFromByteOrderMarks: true);
        var document = new StringBuilder();
        while (reader.ReadLine() is { } line)
        {
            if (line.Trim().Length == 0)
            {
                if (document.Length > 0) yield return DataItem.FromText(document.ToString());
                document.Clear();
                continue;
            }
            if (document.Length > 0) document.Append('\n');
            document.Append(line);
        }
        if (document.Length > 0) yield return DataItem.FromText(document.ToString());
    }

    private static IEnumerable<DataItem> ReadJsonLines(string path, string textField)
    {
        using var reader = new StreamReader(UserFiles.OpenRead(path), Utf8);
        var lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            yield return ParseJsonLine(path, lineNumber, line, textField);
        }
    }

    private static DataItem ParseJsonLine(string path, int lineNumber, string line, string textField)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (root.TryGetProperty(textField, out var text) && text.ValueKind == JsonValueKind.String)
                    return DataItem.FromText(text.GetString()!);
                if (root.TryGetProperty("input_ids", out var ids))
                    return DataItem.FromSequence(Ids(ids, $"{path}:{lineNumber}"));
            }
            throw new InvalidInputException($"{path}:{lineNumber}: expected an object with a \"{textField}\" string or an \"input_ids\" array (choose the field with --text-field)");
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{path}:{lineNumber}: not valid JSON ({e.Message.Split('\n')[0]})");
        }
    }

    private static IEnumerable<DataItem> ReadJsonArray(string path)
    {
        using var stream = UserFiles.OpenRead(path);
        IEnumerable<JsonElement> elements;
        try
        {
            elements = JsonSerializer.DeserializeAsyncEnumerable<JsonElement>(stream).ToBlockingEnumerable();
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{path}: not a JSON array ({e.Message.Split('\n')[0]})");
        }
        using var enumerator = elements.GetEnumerator();
        var index = 0;
        while (true)
        {
            JsonElement element;
            try
            {
                if (!enumerator.MoveNext()) yield break;
                element = enumerator.Current;
            }
            catch (JsonException e)
            {
                throw new InvalidInputException($"{path}: not valid JSON ({e.Message.Split('\n')[0]}); expected an array of arrays of token ids");
            }
            yield return DataItem.FromSequence(Ids(element, $"{path}: sequence {index++}"));
        }
    }

    private static IEnumerable<DataItem> ReadTokenFile(string path, TokenFileDType dtype)
    {
        var width = dtype == TokenFileDType.UInt16 ? 2 : 4;
        var length = UserFiles.RequireRegular(path);
        if (length % width != 0)
            throw new InvalidInputException($"{path}: {length} bytes is not a whole number of {dtype} ids; is --data-dtype right?");
        using var stream = File.OpenRead(path);
        var buffer = new byte[1 << 20];
        int read;
        while ((read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false)) > 0)
        {
            var ids = new int[read / width];
            for (var i = 0; i < ids.Length; i++)
            {
                var id = width == 2 ? BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(i * 2)) : BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(i * 4));
                if (id > int.MaxValue)
                    throw new InvalidInputException($"{path}: token id {id} is beyond any vocabulary (2^31); is --data-dtype right?");
                ids[i] = (int)id;
            }
            yield return DataItem.FromStream(ids);
        }
    }

    internal static int[] Ids(JsonElement array, string where)
    {
        if (array.ValueKind != JsonValueKind.Array) throw new InvalidInputException($"{where}: expected an array of token ids");
        var ids = new int[array.GetArrayLength()];
        var i = 0;
        foreach (var id in array.EnumerateArray())
        {
            if (id.ValueKind != JsonValueKind.Number || !id.TryGetInt32(out ids[i]) || ids[i] < 0)
                throw new InvalidInputException($"{where}: holds {id.GetRawText()}, which is not a token id");
            i++;
        }
        return ids;
    }
}
