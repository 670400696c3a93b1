namespace Mha2Mla.Tokenization;

/// <summary>An entry of tokenizer.json's added_tokens: matched in the text before the model runs.</summary>
public sealed record AddedToken(int Id, string Content, bool Special, bool Normalized, bool LStrip, bool RStrip, bool SingleWord);
