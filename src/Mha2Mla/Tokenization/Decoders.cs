using System.Text;

namespace Mha2Mla.Tokenization;

/// <summary>tokenizer.json's decoder: turns token strings back into text, step by step.</summary>
public interface IDecoder
{
    List<string> Decode(List<string> tokens);
}

/// <summary>Byte-alphabet tokens back to UTF-8 text (invalid bytes become U+FFFD).</summary>
public sealed class ByteLevelDecoder : IDecoder
{
    public List<string> Decode(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (var token in tokens) ByteLevelAlphabet.AppendBytes(token, bytes);
        return [Encoding.UTF8.GetString(bytes.ToArray())];
    }
}

/// <summary>"▁" back to spaces, dropping the one the pre-tokenizer prepended to the first word.</summary>
public sealed class MetaspaceDecoder(char replacement, bool stripFirst) : IDecoder
{
    public List<string> Decode(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (var i = 0; i < tokens.Count; i++)
        {
            var text = tokens[i].Replace(replacement, ' ');
            if (i == 0 && stripFirst && text.StartsWith(' ')) text = text[1..];
            result.Add(text);
        }
        return result;
    }
}

public sealed class ReplaceDecoder(string pattern, string content) : IDecoder
{
    public List<string> Decode(List<string> tokens) => tokens.Select(t => t.Replace(pattern, content, StringComparison.Ordinal)).ToList();
}

/// <summary>Runs of &lt;0xNN&gt; tokens back to the UTF-8 text they spell.</summary>
public sealed class ByteFallbackDecoder : IDecoder
{
    public List<string> Decode(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var pending = new List<byte>();
        void Flush()
        {
            if (pending.Count == 0) return;
            result.Add(Encoding.UTF8.GetString(pending.ToArray()));
            pending.Clear();
        }
        foreach (var token in tokens)
        {
            if (token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>' &&
                byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out var b))
            {
                pending.Add(b);
                continue;
            }
            Flush();
            result.Add(token);
        }
        Flush();
        return result;
    }
}

public sealed class FuseDecoder : IDecoder
{
    public List<string> Decode(List<string> tokens) => [string.Concat(tokens)];
}

/// <summary>Removes up to <c>start</c> leading and <c>stop</c> trailing <c>content</c> characters from each token.</summary>
public sealed class StripDecoder(char content, int start, int stop) : IDecoder
{
    public List<string> Decode(List<string> tokens) => tokens.Select(token =>
    {
        var from = 0;
        while (from < start && from < token.Length && token[from] == content) from++;
        var to = token.Length;
        while (token.Length - to < stop && to > from && token[to - 1] == content) to--;
        return token[from..to];
    }).ToList();
}

public sealed class SequenceDecoder(IReadOnlyList<IDecoder> steps) : IDecoder
{
    public List<string> Decode(List<string> tokens)
    {
        foreach (var step in steps) tokens = step.Decode(tokens);
        return tokens;
    }
}
