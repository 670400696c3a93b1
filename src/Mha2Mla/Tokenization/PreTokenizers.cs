using System.Text.RegularExpressions;

namespace Mha2Mla.Tokenization;

/// <summary>
/// A tokenizer.json pre-tokenizer: splits a piece of text into the words BPE runs on.
/// <paramref name="firstSection"/> is true for text that starts the input (Metaspace's "first").
/// </summary>
public interface IPreTokenizer
{
    void PreTokenize(string text, bool firstSection, List<string> output);
}

/// <summary>How a Split keeps its delimiters (Hugging Face's SplitDelimiterBehavior).</summary>
public enum SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

/// <summary>Splits on a regex's matches (or, inverted, keeps the matches as the words).</summary>
public sealed class SplitPreTokenizer(OnigurumaRegex pattern, SplitBehavior behavior, bool invert) : IPreTokenizer
{
    public void PreTokenize(string text, bool firstSection, List<string> output) =>
        Split(text, pattern.Matches(text), behavior, invert, output);

    /// <summary>Cuts text at the given matches by Hugging Face's rules for each behavior.</summary>
    public static void Split(string text, List<(int Start, int Length)> matches, SplitBehavior behavior, bool invert, List<string> output)
    {
        // Alternating (piece, is-delimiter) spans covering the text.
        var spans = new List<(int Start, int End, bool Delimiter)>();
        var position = 0;
        foreach (var (start, length) in matches)
        {
            if (start > position) spans.Add((position, start, invert));
            spans.Add((start, start + length, !invert));
            position = start + length;
        }
        if (position < text.Length) spans.Add((position, text.Length, invert));

        var pieces = new List<(int Start, int End)>();
        var pendingNext = -1; // MergedWithNext: where the held delimiter starts
        var lastWasDelimiter = false;
        foreach (var (start, end, delimiter) in spans)
        {
            switch (behavior)
            {
                case SplitBehavior.Isolated:
                    pieces.Add((start, end));
                    break;
                case SplitBehavior.Removed:
                    if (!delimiter) pieces.Add((start, end));
                    break;
                case SplitBehavior.MergedWithPrevious:
                    if (delimiter && pieces.Count > 0 && pieces[^1].End == start) pieces[^1] = (pieces[^1].Start, end);
                    else pieces.Add((start, end));
                    break;
                case SplitBehavior.MergedWithNext:
                    if (delimiter)
                    {
                        if (pendingNext >= 0) pieces.Add((pendingNext, start));
                        pendingNext = start;
                    }
                    else
                    {
                        pieces.Add((pendingNext >= 0 ? pendingNext : start, end));
                        pendingNext = -1;
                    }
                    break;
                case SplitBehavior.Contiguous:
                    // Runs of delimiters become one piece.
                    if (delimiter && lastWasDelimiter) pieces[^1] = (pieces[^1].Start, end);
                    else pieces.Add((start, end));
                    break;
            }
            lastWasDelimiter = delimiter;
        }
        if (pendingNext >= 0) pieces.Add((pendingNext, text.Length));
        foreach (var (start, end) in pieces)
            if (end > start) output.Add(text[start..end]);
    }
}

/// <summary>
/// GPT-2's byte-level step: optionally a leading space, optionally GPT-2's word regex, then
/// every word rewritten in the byte alphabet (<see cref="ByteLevelAlphabet"/>).
/// </summary>
public sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : IPreTokenizer
{
    private static readonly OnigurumaRegex Gpt2Words = new(
        @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", "ByteLevel");

    public void PreTokenize(string text, bool firstSection, List<string> output)
    {
        if (addPrefixSpace && !text.StartsWith(' ')) text = " " + text;
        if (!useRegex)
        {
            output.Add(ByteLevelAlphabet.Encode(text));
            return;
        }
        foreach (var (start, length) in Gpt2Words.Matches(text))
            output.Add(ByteLevelAlphabet.Encode(text.Substring(start, length)));
    }
}

/// <summary>SentencePiece's convention: spaces become "▁", with one prepended by the scheme.</summary>
public sealed class MetaspacePreTokenizer(char replacement, string prependScheme, bool split) : IPreTokenizer
{
    public void PreTokenize(string text, bool firstSection, List<string> output)
    {
        var replaced = text.Replace(' ', replacement);
        var prepend = prependScheme == "always" || (prependScheme == "first" && firstSection);
        if (prepend && !replaced.StartsWith(replacement)) replaced = replacement + replaced;
        if (!split)
        {
            output.Add(replaced);
            return;
        }
        var matches = new List<(int, int)>();
        for (var i = 0; i < replaced.Length; i++)
            if (replaced[i] == replacement) matches.Add((i, 1));
        SplitPreTokenizer.Split(replaced, matches, SplitBehavior.MergedWithNext, invert: false, output);
    }
}

/// <summary>Splits digits from the rest, each digit alone or runs of them together.</summary>
public sealed class DigitsPreTokenizer(bool individualDigits) : IPreTokenizer
{
    private static readonly Regex Runs = new(@"\p{Nd}+", RegexOptions.Compiled);
    private static readonly Regex Single = new(@"\p{Nd}", RegexOptions.Compiled);

    public void PreTokenize(string text, bool firstSection, List<string> output)
    {
        var matches = (individualDigits ? Single : Runs).Matches(text).Select(m => (m.Index, m.Length)).ToList();
        SplitPreTokenizer.Split(text, matches, SplitBehavior.Isolated, invert: false, output);
    }
}

/// <summary>Runs pre-tokenizers one after another, each on every piece the previous one made.</summary>
public sealed class SequencePreTokenizer(IReadOnlyList<IPreTokenizer> steps) : IPreTokenizer
{
    public void PreTokenize(string text, bool firstSection, List<string> output)
    {
        List<string> pieces = [text];
        foreach (var step in steps)
        {
            var next = new List<string>();
            foreach (var piece in pieces) step.PreTokenize(piece, firstSection, next);
            pieces = next;
        }
        output.AddRange(pieces);
    }
}
