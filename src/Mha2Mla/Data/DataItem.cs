namespace Mha2Mla.Data;

/// <summary>
/// One piece of a data file: text to tokenize, or token ids. <see cref="Packed"/> pieces (text
/// documents, raw token streams) are concatenated and cut into windows; the others (pre-tokenized
/// sequences from .json and .jsonl) stay whole, one sample each.
/// </summary>
public readonly record struct DataItem(string? Text, int[]? Ids, bool Packed)
{
    public static DataItem FromText(string text) => new(text, null, true);
    public static DataItem FromStream(int[] ids) => new(null, ids, true);
    public static DataItem FromSequence(int[] ids) => new(null, ids, false);
}
