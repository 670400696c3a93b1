using System.Text.Json;

namespace Mha2Mla.Configs;

/// <summary>Typed access to one JSON object of a config.json, with errors that name the file and field.</summary>
internal sealed class Fields(string path, JsonElement root, string prefix = "")
{
    public string Path => path;
    public JsonElement Root => root;

    public InvalidInputException Error(string field, string what) => new($"{path}: {prefix}{field} {what}");

    /// <summary>Whether the field is written at all (a null value counts: it says "none").</summary>
    public bool Has(string name) => root.TryGetProperty(name, out _);

    /// <summary>A nested object, or null when the field is absent, null or an empty object.</summary>
    public Fields? Object(string name)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Object) throw Error(name, $"must be an object or null, not {v.GetRawText()}");
        return v.EnumerateObject().Any() ? new Fields(path, v, $"{prefix}{name}.") : null;
    }

    public string[]? Strings(string name)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
            throw Error(name, $"must be an array of strings, not {v.GetRawText()}");
        return v.EnumerateArray().Select(e => e.GetString()!).ToArray();
    }

    /// <summary>An array of finite numbers.</summary>
    public double[]? Numbers(string name)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.Number || !e.TryGetDouble(out var x) || !double.IsFinite(x)))
            throw Error(name, $"must be an array of numbers, not {v.GetRawText()}");
        return v.EnumerateArray().Select(e => e.GetDouble()).ToArray();
    }

    /// <summary>A finite number, of any sign.</summary>
    public double? Number(string name)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out var x) || !double.IsFinite(x))
            throw Error(name, $"must be a number, not {v.GetRawText()}");
        return x;
    }

    public int? NonNegativeIntOrNull(string name)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out var n) || n < 0)
            throw Error(name, $"must be a non-negative integer, not {v.GetRawText()}");
        return n;
    }

    private JsonElement? Get(string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    public string? String(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        var v => throw Error(name, $"must be a string, not {v.Value.GetRawText()}"),
    };

    public bool? Bool(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        var v => throw Error(name, $"must be true or false, not {v.Value.GetRawText()}"),
    };

    public int? PositiveIntOrNull(string name)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out var n) || n <= 0)
            throw Error(name, $"must be a positive integer, not {v.GetRawText()}");
        return n;
    }

    public int PositiveInt(string name) => PositiveIntOrNull(name) ?? throw Error(name, "is missing");

    public double? PositiveDouble(string name)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out var x) || !(x > 0) || double.IsInfinity(x))
            throw Error(name, $"must be a positive number, not {v.GetRawText()}");
        return x;
    }
}
