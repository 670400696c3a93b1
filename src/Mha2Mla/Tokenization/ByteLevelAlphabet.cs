using System.Text;

namespace Mha2Mla.Tokenization;

/// <summary>
/// GPT-2's reversible map from the 256 byte values to printable characters: printable Latin-1
/// bytes map to themselves, the rest to U+0100 onwards. Byte-level BPE vocabularies are written
/// in this alphabet (a space is "Ġ", a newline "Ċ").
/// </summary>
public static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = Build();
    private static readonly Dictionary<char, byte> CharToByte =
        Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b], b => (byte)b);

    private static char[] Build()
    {
        var table = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }

    /// <summary>The alphabet character standing for byte <paramref name="b"/>.</summary>
    public static char CharOf(byte b) => ByteToChar[b];

    /// <summary>The UTF-8 bytes of <paramref name="text"/>, each written as its alphabet character.</summary>
    public static string Encode(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return string.Create(bytes.Length, bytes, (span, source) =>
        {
            for (var i = 0; i < source.Length; i++) span[i] = ByteToChar[source[i]];
        });
    }

    /// <summary>
    /// Appends the bytes a token written in the alphabet stands for. A token with any character
    /// outside the alphabet (an added token such as "&lt;|im_start|&gt; ") is taken as plain UTF-8,
    /// as Hugging Face's ByteLevel decoder does.
    /// </summary>
    public static void AppendBytes(string token, List<byte> output)
    {
        foreach (var c in token)
        {
            if (!CharToByte.ContainsKey(c))
            {
                output.AddRange(Encoding.UTF8.GetBytes(token));
                return;
            }
        }
        foreach (var c in token) output.Add(CharToByte[c]);
    }
}
