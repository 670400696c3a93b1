using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;

namespace Mha2Mla.Storage;

/// <summary>
/// One .safetensors file, memory-mapped read-only. Reading a tensor copies just its bytes out of
/// the mapping (converting to the requested dtype on the way), so a checkpoint far larger than
/// memory can be read one tensor at a time.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    private readonly MemoryMappedFile? mapping;
    private readonly MemoryMappedViewAccessor? view;
    private readonly byte* basePointer;
    private readonly long dataStart;

    public string Path { get; }
    public IReadOnlyDictionary<string, TensorEntry> Tensors { get; }

    private SafetensorsFile(string path)
    {
        Path = path;
        var length = UserFiles.RequireRegular(path);
        if (length < 8)
            throw SafetensorsHeader.Error(path, $"it is {length} bytes long, too short to hold the 8-byte header length; the file is truncated");

        mapping = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        try
        {
            view = mapping.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePointer);
            basePointer += view.PointerOffset;

            var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(basePointer, 8));
            if (headerLength > SafetensorsHeader.MaxHeaderBytes)
                throw SafetensorsHeader.Error(path, $"its header claims {headerLength} bytes, over the {SafetensorsHeader.MaxHeaderBytes}-byte limit; the file is corrupt or not safetensors");
            if ((long)headerLength > length - 8)
                throw SafetensorsHeader.Error(path, $"its header claims {headerLength} bytes but only {length - 8} follow; the file is truncated");

            dataStart = 8 + (long)headerLength;
            var json = new ReadOnlySpan<byte>(basePointer + 8, (int)headerLength);
            Tensors = SafetensorsHeader.Parse(path, json, length - dataStart);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Opens <paramref name="path"/>; a missing file, a dangling link or a FIFO is an input error (<see cref="UserFiles.RequireRegular"/>).</summary>
    public static SafetensorsFile Open(string path) => new(path);

    /// <summary>Reads one tensor into a new CPU tensor of <paramref name="resultType"/>.</summary>
    public Tensor Read(string name, ScalarType resultType = ScalarType.Float32)
    {
        if (!Tensors.TryGetValue(name, out var entry))
            throw new InvalidInputException($"{Path}: has no tensor '{name}'");
        var start = basePointer + dataStart + entry.Begin;
        var tensor = torch.from_buffer(start, entry.Shape, entry.DType, resultType);
        Release(start, entry.ByteLength);
        return tensor;
    }

    // The copy is made, so drop the mapped pages from this process: touched file-backed pages
    // count as resident memory, and a 7B checkpoint read tensor by tensor would otherwise end
    // with all of it "resident". The kernel keeps them in its page cache.
    private static void Release(byte* start, long length)
    {
        const int MADV_DONTNEED = 4;
        var page = Environment.SystemPageSize;
        var first = (long)start / page * page;
        var end = ((long)start + length) / page * page; // whole pages inside the range only
        if (end > first) _ = madvise((IntPtr)first, (UIntPtr)(ulong)(end - first), MADV_DONTNEED);
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = false)]
    private static extern int madvise(IntPtr address, UIntPtr length, int advice);

    public void Dispose()
    {
        if (view is not null && basePointer != null) view.SafeMemoryMappedViewHandle.ReleasePointer();
        view?.Dispose();
        mapping?.Dispose();
    }
}
