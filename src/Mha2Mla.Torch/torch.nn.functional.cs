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

            /// <summary>
            /// softmax(q·kᵀ/√E + mask)·v for q (…, L, E) and k, v (…, S, ·), scale 1/√E. As in
            /// PyTorch, <paramref name="attn_mask"/> is true where a query MAY attend, and
            /// <paramref name="is_causal"/> applies the top-left causal mask without building one.
            /// </summary>
            public static Tensor scaled_dot_product_attention(Tensor query, Tensor key, Tensor value, Tensor? attn_mask = null, bool is_causal = false)
            {
                var result = NativeMethods.mm_scaled_dot_product_attention(query, key, value, attn_mask?.DangerousGetHandle() ?? IntPtr.Zero, is_causal ? 1 : 0);
                GC.KeepAlive(attn_mask);
                return Tensor.Wrap(result);
            }

            /// <summary>
            /// True when <see cref="scaled_dot_product_attention"/> reaches PyTorch's fused kernels
            /// (libtorch 2.0+); on 1.13 it is the unfused reference form, slower than mha2mla's own.
            /// </summary>
            public static bool scaled_dot_product_attention_is_fused => sdpaIsFused.Value;

            // A fact of the loaded libtorch, asked once (every attention call reads it); lazily, so that
            // touching this class never loads the native library from a static initializer.
            private static readonly Lazy<bool> sdpaIsFused = new(() => NativeMethods.mm_sdpa_is_fused() == 1);

            public enum Reduction { None = 0, Mean = 1, Sum = 2 }

            /// <summary>Cross entropy of logits (N, C) against class indices (N).</summary>
            public static Tensor cross_entropy(Tensor logits, Tensor targets, Reduction reduction = Reduction.Mean) =>
                Tensor.Wrap(NativeMethods.mm_cross_entropy(logits, targets, (int)reduction));
        }
    }
}
