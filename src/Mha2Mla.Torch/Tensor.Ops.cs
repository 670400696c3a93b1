namespace Mha2Mla.Torch;

// Layout, conversion and arithmetic: each method is one native call.
public sealed partial class Tensor
{
    public Tensor to(ScalarType type) => Wrap(NativeMethods.mm_to(this, (int)type, (int)device.type, device.index));
    public Tensor to(Device target) => Wrap(NativeMethods.mm_to(this, (int)dtype, (int)target.type, target.index));
    public Tensor to(ScalarType type, Device target) => Wrap(NativeMethods.mm_to(this, (int)type, (int)target.type, target.index));
    public Tensor contiguous() => Wrap(NativeMethods.mm_contiguous(this));
    public Tensor clone() => Wrap(NativeMethods.mm_clone(this));

    public Tensor reshape(params long[] newShape) => Wrap(NativeMethods.mm_reshape(this, newShape, newShape.Length));
    /// <summary>The same storage seen with another shape; fails (as in PyTorch) where that would need a copy: use <see cref="reshape"/>.</summary>
    public Tensor view(params long[] newShape) => Wrap(NativeMethods.mm_view(this, newShape, newShape.Length));
    public Tensor transpose(long dim0, long dim1) => Wrap(NativeMethods.mm_transpose(this, dim0, dim1));
    public Tensor narrow(long dim, long start, long length) => Wrap(NativeMethods.mm_narrow(this, dim, start, length));
    public Tensor select(long dim, long index) => Wrap(NativeMethods.mm_select(this, dim, index));
    public Tensor unsqueeze(long dim) => Wrap(NativeMethods.mm_unsqueeze(this, dim));
    public Tensor expand(params long[] sizes) => Wrap(NativeMethods.mm_expand(this, sizes, sizes.Length));
    public Tensor index_select(long dim, Tensor index) => Wrap(NativeMethods.mm_index_select(this, dim, index));

    public Tensor add(Tensor other) => Wrap(NativeMethods.mm_add(this, other));
    public Tensor sub(Tensor other) => Wrap(NativeMethods.mm_sub(this, other));
    public Tensor mul(Tensor other) => Wrap(NativeMethods.mm_mul(this, other));
    public Tensor div(Tensor other) => Wrap(NativeMethods.mm_div(this, other));
    public Tensor add(double scalar) => Wrap(NativeMethods.mm_add_scalar(this, scalar));
    public Tensor mul(double scalar) => Wrap(NativeMethods.mm_mul_scalar(this, scalar));
    public Tensor pow(double exponent) => Wrap(NativeMethods.mm_pow_scalar(this, exponent));
    public Tensor matmul(Tensor other) => Wrap(NativeMethods.mm_matmul(this, other));

    public Tensor neg() => Wrap(NativeMethods.mm_neg(this));
    public Tensor sqrt() => Wrap(NativeMethods.mm_sqrt(this));
    public Tensor rsqrt() => Wrap(NativeMethods.mm_rsqrt(this));
    public Tensor sin() => Wrap(NativeMethods.mm_sin(this));
    public Tensor cos() => Wrap(NativeMethods.mm_cos(this));

    public Tensor abs() => Wrap(NativeMethods.mm_abs(this));
    public Tensor round() => Wrap(NativeMethods.mm_round(this));
    public Tensor floor() => Wrap(NativeMethods.mm_floor(this));
    public Tensor clamp(double min, double max) => Wrap(NativeMethods.mm_clamp(this, min, max));
    public Tensor amax(long dim, bool keepdim = false) => Wrap(NativeMethods.mm_amax(this, dim, keepdim ? 1 : 0));
    public Tensor triu(long diagonal = 0) => Wrap(NativeMethods.mm_triu(this, diagonal));
    public Tensor tril(long diagonal = 0) => Wrap(NativeMethods.mm_tril(this, diagonal));
    public Tensor logical_or(Tensor other) => Wrap(NativeMethods.mm_logical_or(this, other));
    public Tensor logical_and(Tensor other) => Wrap(NativeMethods.mm_logical_and(this, other));
    public Tensor logical_not() => Wrap(NativeMethods.mm_logical_not(this));

    public Tensor mean() => Wrap(NativeMethods.mm_mean(this, [], 0, 0));
    public Tensor mean(long[] dims, bool keepdim = false) => Wrap(NativeMethods.mm_mean(this, dims, dims.Length, keepdim ? 1 : 0));
    public Tensor sum() => Wrap(NativeMethods.mm_sum(this, [], 0, 0));
    public Tensor sum(long[] dims, bool keepdim = false) => Wrap(NativeMethods.mm_sum(this, dims, dims.Length, keepdim ? 1 : 0));

    // In place: no new tensor, so a 2048×2048 score matrix is not allocated three times over.
    public Tensor add_(Tensor other) { TorchException.Check(NativeMethods.mm_add_(this, other)); return this; }
    public Tensor mul_(Tensor other) { TorchException.Check(NativeMethods.mm_mul_(this, other)); return this; }
    public Tensor mul_(double scalar) { TorchException.Check(NativeMethods.mm_mul_scalar_(this, scalar)); return this; }
    public Tensor masked_fill_(Tensor mask, double value) { TorchException.Check(NativeMethods.mm_masked_fill_(this, mask, value)); return this; }

    public static Tensor operator +(Tensor a, Tensor b) => a.add(b);
    public static Tensor operator -(Tensor a, Tensor b) => a.sub(b);
    public static Tensor operator *(Tensor a, Tensor b) => a.mul(b);
    public static Tensor operator /(Tensor a, Tensor b) => a.div(b);
    public static Tensor operator +(Tensor a, double b) => a.add(b);
    public static Tensor operator -(Tensor a, double b) => a.add(-b);
    public static Tensor operator *(Tensor a, double b) => a.mul(b);
    public static Tensor operator *(double a, Tensor b) => b.mul(a);
    public static Tensor operator /(Tensor a, double b) => a.mul(1.0 / b);
    public static Tensor operator -(Tensor a) => a.neg();
}
