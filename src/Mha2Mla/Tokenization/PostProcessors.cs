namespace Mha2Mla.Tokenization;

/// <summary>tokenizer.json's post_processor: adds the special tokens around an encoded text.</summary>
public interface IPostProcessor
{
    List<int> Process(List<int> ids, bool addSpecialTokens);
}

/// <summary>TemplateProcessing's "single" template, e.g. [BOS, $A] for Llama 2.</summary>
public sealed class TemplatePostProcessor(IReadOnlyList<int[]?> template) : IPostProcessor
{
    // Each entry is the ids of a special token, or null where the sequence goes.
    public List<int> Process(List<int> ids, bool addSpecialTokens)
    {
        var result = new List<int>(ids.Count + 4);
        foreach (var item in template)
        {
            if (item is null) result.AddRange(ids);
            else if (addSpecialTokens) result.AddRange(item);
        }
        return result;
    }
}

/// <summary>ByteLevel's post-processor only trims offsets, which mha2mla does not report.</summary>
public sealed class PassThroughPostProcessor : IPostProcessor
{
    public List<int> Process(List<int> ids, bool addSpecialTokens) => ids;
}

public sealed class SequencePostProcessor(IReadOnlyList<IPostProcessor> steps) : IPostProcessor
{
    public List<int> Process(List<int> ids, bool addSpecialTokens)
    {
        foreach (var step in steps) ids = step.Process(ids, addSpecialTokens);
        return ids;
    }
}
