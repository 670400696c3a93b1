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

        /// <summary>The lower factor L of a symmetric positive-definite <paramref name="a"/> = L·Lᵀ.</summary>
        public static Tensor cholesky(Tensor a) => Tensor.Wrap(NativeMethods.mm_cholesky(a));

        /// <summary>X with A·X = B (<paramref name="left"/>) or X·A = B, for a triangular A.</summary>
        public static Tensor solve_triangular(Tensor a, Tensor b, bool upper, bool left = true) =>
            Tensor.Wrap(NativeMethods.mm_solve_triangular(a, b, upper ? 1 : 0, left ? 1 : 0));
    }
}
