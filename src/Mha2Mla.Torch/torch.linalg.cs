namespace Mha2Mla.Torch;

public static partial class torch
{
    public static class linalg
    {
        /// <summary>Reduced SVD: <paramref name="a"/> = U · diag(S) · Vh, singular values descending.</summary>
        public static (Tensor U, Tensor S, Tensor Vh) svd(Tensor a)
        {
            TorchException.Check(NativeMethods.mm_svd(a, out var u, out var s, out var vh));
            return (Tensor.Wrap(u), Tensor.Wrap(s), Tensor.Wrap(vh));
        }
    }
}
