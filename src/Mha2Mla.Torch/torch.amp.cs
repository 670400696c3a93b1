namespace Mha2Mla.Torch;

public static partial class torch
{
    /// <summary>Automatic mixed precision, as torch.amp.</summary>
    public static class amp
    {
        /// <summary>
        /// Autocast on <paramref name="device"/>'s type until disposed: matmuls run in
        /// <paramref name="dtype"/> while weights (and optimizer state) keep theirs, as
        /// <c>with torch.autocast(device_type, dtype)</c>. CPU autocast supports bf16 only.
        /// The previous state comes back on dispose.
        /// </summary>
        public static IDisposable autocast(DeviceType device, ScalarType dtype = ScalarType.BFloat16, bool enabled = true) => new Autocast(device, dtype, enabled);

        private sealed class Autocast : IDisposable
        {
            private readonly int previous;
            private readonly DeviceType device;
            private readonly ScalarType dtype;

            public Autocast(DeviceType device, ScalarType dtype, bool enabled)
            {
                (this.device, this.dtype) = (device, dtype);
                previous = NativeMethods.mm_set_autocast((int)device, enabled ? 1 : 0, (int)dtype);
                if (previous < 0) throw TorchException.FromNative();
            }

            public void Dispose() => NativeMethods.mm_set_autocast((int)device, previous, (int)dtype);
        }
    }
}
