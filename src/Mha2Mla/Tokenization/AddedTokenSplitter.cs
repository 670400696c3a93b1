namespace Mha2Mla.Tokenization;

/// <summary>
/// Cuts text into runs of ordinary text and whole added tokens, taking the longest added token
/// that starts at the leftmost position (as Hugging Face's aho-corasick matcher does).
/// An added token with lstrip/rstrip also swallows the whitespace beside it.
/// </summary>
public sealed class AddedTokenSplitter
{
    private sealed class Node
    {
        public readonly Dictionary<char, Node> Children = [];
        public AddedToken? Token;
    }

    private readonly Node root = new();
    public bool IsEmpty { get; }

    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        var any = false;
        foreach (var token in tokens)
        {
            if (token.Content.Length == 0) continue;
            var node = root;
            foreach (var c in token.Content)
            {
                if (!node.Children.TryGetValue(c, out var child)) node.Children[c] = child = new Node();
                node = child;
            }
            node.Token = token;
            any = true;
        }
        IsEmpty = !any;
    }

    /// <summary>Pieces in order: (text, null) for ordinary text, (content, token) for a match.</summary>
    public List<(string Text, AddedToken? Token)> Split(string text)
    {
        var pieces = new List<(string, AddedToken?)>();
        if (IsEmpty)
        {
            pieces.Add((text, null));
            return pieces;
        }
        var start = 0;
        var i = 0;
        while (i < text.Length)
        {
            AddedToken? match = null;
            var node = root;
            for (var j = i; j < text.Length && node.Children.TryGetValue(text[j], out node); j++)
                if (node.Token is not null) match = node.Token;
            if (match is null)
            {
                i++;
                continue;
            }
            if (i > start) pieces.Add((text[start..i], null));
            pieces.Add((match.Content, match));
            i += match.Content.Length;
            start = i;
        }
        if (start < text.Length) pieces.Add((text[start..], null));

        for (var k = 0; k < pieces.Count; k++)
        {
            if (pieces[k].Item2 is not { } token) continue;
            if (token.LStrip && k > 0 && pieces[k - 1].Item2 is null) pieces[k - 1] = (pieces[k - 1].Item1.TrimEnd(), null);
            if (token.RStrip && k + 1 < pieces.Count && pieces[k + 1].Item2 is null) pieces[k + 1] = (pieces[k + 1].Item1.TrimStart(), null);
        }
        return pieces;
    }
}
