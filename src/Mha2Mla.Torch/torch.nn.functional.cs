namespace Mha2Mla.Torch;

public static partial class torch
{
    public static partial class nn
    {
        /// <summary>torch.nn.functional: the stateless layers.</summary>
        public static class functional
        {
            /// <summary>x·Wᵀ + b, with W in Linear layout (rows = output features).</summary>
            public static Tensor linear(Tensor input, Tensor weight, Tensor? bias = null)
            {
                var result = NativeMethods.mm_linear(input, weight, bias?.DangerousGetHandle() ?? IntPtr.Zero);
                GC.KeepAlive(bias);
                return Tensor.Wrap(result);
            }

            public static Tensor silu(Tensor input) => Tensor.Wrap(NativeMethods.mm_silu(input));
            public static Tensor softmax(Tensor input, long dim) => Tensor.Wrap(NativeMethods.mm_softmax(input, dim));
            public static Tensor embedding(Tensor ids, Tensor weight) => Tensor.Wrap(NativeMethods.mm_embedding(weight, ids));

            public enum Reduction { None = 0, Mean = 1, Sum = 2 }

            /// <summary>Cross entropy of logits (N, C) against class indices (N).</summary>
            public static Tensor cross_entropy(Tensor logits, Tensor targets, Reduction reduction = Reduction.Mean) =>
                Tensor.Wrap(NativeMethods.mm_cross_entropy(logits, targets, (int)reduction));
        }
    }
}
