using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Mha2Mla.Tokenization;

/// <summary>
/// A tokenizer.json regex (written for Oniguruma, which matches code points) run with .NET's
/// engine (which matches UTF-16 units). The classes these patterns use — \p{L}, \p{N}, \s,
/// lookahead, (?i:) — mean the same in both, except that .NET sees a character outside the
/// Basic Multilingual Plane as two surrogates of category Cs. So before matching, each such
/// character is replaced by a stand-in BMP character of the same Unicode category, and match
/// positions are mapped back: 𝐀 (U+1D400, a letter) then joins a word as Oniguruma would have it.
/// </summary>
public sealed class OnigurumaRegex
{
    private static readonly Dictionary<UnicodeCategory, char> StandIns = BuildStandIns();

    /// <summary>
    /// The longest one match may take. A hostile tokenizer.json can hold a pattern that
    /// backtracks catastrophically ((a+)+$); the timeout turns a hang into an input error.
    /// </summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(2);

    private readonly Regex regex;
    private readonly string pattern;
    private readonly string where;

    public OnigurumaRegex(string pattern, string where)
    {
        (this.pattern, this.where) = (pattern, where);
        try
        {
            regex = new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant, MatchTimeout);
        }
        catch (ArgumentException e)
        {
            throw new InvalidInputException($"{where}: regex {pattern} is not one mha2mla can run ({e.Message.Split('\n')[0]})");
        }
    }

    /// <summary>The (start, length) of every match, in UTF-16 positions of <paramref name="text"/>.</summary>
    public List<(int Start, int Length)> Matches(string text)
    {
        try
        {
            return MatchesOf(text);
        }
        catch (RegexMatchTimeoutException)
        {
            throw TimedOut(where, pattern);
        }
    }

    public static InvalidInputException TimedOut(string where, string pattern) =>
        new($"{where}: regex {pattern} ran over {MatchTimeout.TotalSeconds:G} s on one piece of text (catastrophic backtracking); this tokenizer.json cannot be used safely");

    private List<(int Start, int Length)> MatchesOf(string text)
    {
        var result = new List<(int, int)>();
        if (!HasSurrogates(text))
        {
            for (var m = regex.Match(text); m.Success; m = m.NextMatch())
                if (m.Length > 0) result.Add((m.Index, m.Length));
            return result;
        }

        // Stand-in text: one char per code point; offsets[i] = where stand-in char i starts in text.
        var builder = new StringBuilder(text.Length);
        var offsets = new List<int>(text.Length + 1);
        for (var i = 0; i < text.Length; i++)
        {
            offsets.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                var category = CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1]));
                builder.Append(StandIns.GetValueOrDefault(category, '\uE000'));
                i++;
            }
            else builder.Append(text[i]);
        }
        offsets.Add(text.Length);
        for (var m = regex.Match(builder.ToString()); m.Success; m = m.NextMatch())
        {
            if (m.Length == 0) continue;
            var start = offsets[m.Index];
            result.Add((start, offsets[m.Index + m.Length] - start));
        }
        return result;
    }

    private static bool HasSurrogates(string text)
    {
        foreach (var c in text)
            if (char.IsSurrogate(c)) return true;
        return false;
    }

    // For each category, a BMP character of it from the Yi/Vai/Hangul-compatibility end of the
    // plane, far from the ASCII that patterns spell out literally.
    private static Dictionary<UnicodeCategory, char> BuildStandIns()
    {
        var result = new Dictionary<UnicodeCategory, char>();
        for (int c = 0xFFFD; c >= 0x100; c--)
        {
            if (c is >= 0xD800 and <= 0xDFFF) continue;
            var category = CharUnicodeInfo.GetUnicodeCategory((char)c);
            result.TryAdd(category, (char)c);
        }
        return result;
    }
}
