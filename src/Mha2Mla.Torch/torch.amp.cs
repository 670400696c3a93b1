namespace Mha2Mla.Torch;

public static partial class torch
{
    /// <summary>Automatic mixed precision, as torch.amp.</summary>
    public static class amp
    {
        /// <summary>
        /// CUDA autocast until disposed: matmuls run in <paramref name="dtype"/> while weights (and
        /// optimizer state) stay fp32, as <c>with torch.autocast("cuda", dtype)</c>. The previous
        /// state comes back on dispose.
        /// </summary>
        public static IDisposable autocast(ScalarType dtype = ScalarType.BFloat16, bool enabled = true) => new Autocast(dtype, enabled);

        private sealed class Autocast : IDisposable
        {
            private readonly int previous;
            private readonly ScalarType dtype;

            public Autocast(ScalarType dtype, bool enabled)
            {
                this.dtype = dtype;
                previous = NativeMethods.mm_set_autocast(enabled ? 1 : 0, (int)dtype);
                if (previous < 0) throw TorchException.FromNative();
            }

            public void Dispose() => NativeMethods.mm_set_autocast(previous, (int)dtype);
        }
    }
}
