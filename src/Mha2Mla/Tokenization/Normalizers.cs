using System.Text;
using System.Text.RegularExpressions;

namespace Mha2Mla.Tokenization;

/// <summary>A tokenizer.json normalizer: rewrites text before it is split into words.</summary>
public interface INormalizer
{
    string Normalize(string text);
}

public sealed class UnicodeNormalizer(NormalizationForm form) : INormalizer
{
    public string Normalize(string text) => text.IsNormalized(form) ? text : text.Normalize(form);
}

public sealed class LowercaseNormalizer : INormalizer
{
    public string Normalize(string text) => text.ToLowerInvariant();
}

/// <summary>Puts <c>prepend</c> in front of non-empty text (SentencePiece's "▁" for Llama 2).</summary>
public sealed class PrependNormalizer(string prepend) : INormalizer
{
    public string Normalize(string text) => text.Length == 0 ? text : prepend + text;
}

/// <summary>Replaces a literal string or a regex's matches with <c>content</c>.</summary>
public sealed class ReplaceNormalizer(string? literal, Regex? regex, string content) : INormalizer
{
    public string Normalize(string text)
    {
        if (literal is not null) return text.Replace(literal, content, StringComparison.Ordinal);
        try
        {
            return regex!.Replace(text, content);
        }
        catch (RegexMatchTimeoutException)
        {
            throw OnigurumaRegex.TimedOut("tokenizer.json normalizer Replace", regex!.ToString());
        }
    }
}

public sealed class StripNormalizer(bool left, bool right) : INormalizer
{
    public string Normalize(string text) => (left, right) switch
    {
        (true, true) => text.Trim(),
        (true, false) => text.TrimStart(),
        (false, true) => text.TrimEnd(),
        _ => text,
    };
}

public sealed class SequenceNormalizer(IReadOnlyList<INormalizer> steps) : INormalizer
{
    public string Normalize(string text)
    {
        foreach (var step in steps) text = step.Normalize(text);
        return text;
    }
}
