using System.Runtime.InteropServices;

namespace Mha2Mla.Torch;

/// <summary>
/// A libtorch tensor. The native tensor is freed when this handle is disposed (directly, by the
/// enclosing <see cref="DisposeScope"/>, or as a last resort by the finalizer). Method names
/// follow TorchSharp so that code moves to it mechanically.
/// </summary>
public sealed partial class Tensor : SafeHandle
{
    private Tensor(IntPtr native) : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle(native);
        DisposeScope.Current?.Register(this);
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>The scope that will free this tensor, or null when its owner is the caller.</summary>
    public DisposeScope? OwningDisposeScope { get; internal set; }

    /// <summary>Takes this tensor out of the scope that owns it (wherever that is): the caller owns it now.</summary>
    public Tensor DetachFromDisposeScope() => OwningDisposeScope?.Detach(this) ?? this;

    /// <summary>Hands this tensor from the scope that owns it to the scope around that one.</summary>
    public Tensor MoveToOuterDisposeScope() => OwningDisposeScope?.MoveToOuter(this) ?? this;

    protected override bool ReleaseHandle()
    {
        NativeMethods.mm_free(handle);
        return true;
    }

    /// <summary>Wraps a native result; a NULL means libtorch threw, so its message is raised.</summary>
    internal static Tensor Wrap(IntPtr native) =>
        native == IntPtr.Zero ? throw TorchException.FromNative() : new Tensor(native);

    // ---- facts --------------------------------------------------------------------------

    public long[] shape
    {
        get
        {
            var dims = new long[16];
            var n = NativeMethods.mm_shape(this, dims, dims.Length);
            TorchException.Check(n);
            return dims[..n];
        }
    }

    public long size(int dim) => shape[dim < 0 ? dim + this.dim() : dim];
    public int dim() => Checked(NativeMethods.mm_dim(this));
    public long numel() => NativeMethods.mm_numel(this) is var n && n >= 0 ? n : throw TorchException.FromNative();
    public ScalarType dtype => (ScalarType)Checked(NativeMethods.mm_dtype(this));
    public bool requires_grad => Checked(NativeMethods.mm_requires_grad(this)) == 1;

    public Device device
    {
        get
        {
            var type = (DeviceType)Checked(NativeMethods.mm_device_type(this));
            var index = NativeMethods.mm_device_index(this);
            if (index < -1) throw TorchException.FromNative();
            return new Device(type, index);
        }
    }

    public override string ToString() => $"Tensor([{string.Join(", ", shape)}], {dtype}, {device})";

    private static int Checked(int value) => value >= 0 ? value : throw TorchException.FromNative();

    // ---- reading elements ------------------------------------------------------------

    /// <summary>A scalar tensor's value.</summary>
    public double item()
    {
        TorchException.Check(NativeMethods.mm_item_double(this, out var value));
        return value;
    }

    /// <summary>All elements in row-major order, copied to managed memory as <typeparamref name="T"/>.</summary>
    public unsafe T[] data<T>() where T : unmanaged
    {
        var type = ScalarTypeOf<T>();
        var result = new T[numel()];
        fixed (T* p = result)
            TorchException.Check(NativeMethods.mm_copy_to_buffer(this, (int)type, p, (long)result.Length * sizeof(T)));
        return result;
    }

    /// <summary>
    /// Writes the elements as <paramref name="type"/> (little-endian) to <paramref name="stream"/>,
    /// straight from native memory: no managed copy of a large tensor is ever made.
    /// </summary>
    public unsafe void WriteTo(Stream stream, ScalarType type)
    {
        using var cpu = to(type, Device.CPU);
        using var packed = cpu.contiguous();
        var pointer = (byte*)NativeMethods.mm_data_ptr(packed);
        var length = packed.numel() * type.ElementSize();
        if (pointer == null && length > 0) throw TorchException.FromNative();
        GC.KeepAlive(packed);
        for (long offset = 0; offset < length; offset += 1 << 26)
            stream.Write(new ReadOnlySpan<byte>(pointer + offset, (int)Math.Min(1 << 26, length - offset)));
    }

    internal static ScalarType ScalarTypeOf<T>() where T : unmanaged => typeof(T) switch
    {
        var t when t == typeof(float) => ScalarType.Float32,
        var t when t == typeof(double) => ScalarType.Float64,
        var t when t == typeof(long) => ScalarType.Int64,
        var t when t == typeof(int) => ScalarType.Int32,
        var t when t == typeof(short) => ScalarType.Int16,
        var t when t == typeof(byte) => ScalarType.Byte,
        var t when t == typeof(bool) => ScalarType.Bool,
        var t when t == typeof(Half) => ScalarType.Float16,
        _ => throw new NotSupportedException($"no tensor element type for {typeof(T).Name}"),
    };
}
