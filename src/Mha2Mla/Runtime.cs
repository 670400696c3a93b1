namespace Mha2Mla;

/// <summary>Engine set-up shared by every command: compute threads and the device.</summary>
public static class Runtime
{
    /// <summary>
    /// Sets libtorch's intra-op threads; null (--threads not given) means one per core. More than
    /// 4 per core only slows the work down (and 100000 threads bring a machine to its knees), so it is capped.
    /// </summary>
    public static int UseThreads(int? requested)
    {
        if (requested < 1) throw new InvalidInputException($"--threads must be at least 1, not {requested} (leave it out for one per core)");
        var cap = 4 * Environment.ProcessorCount;
        var threads = requested ?? Environment.ProcessorCount;
        if (threads > cap)
        {
            Diagnostics.Warnings.Emit($"--threads {requested} is more than 4 per core; using {cap}");
            threads = cap;
        }
        torch.set_num_threads(threads);
        return threads;
    }

    // glibc's malloc serves a large block from a fresh mmap and unmaps it when freed, so every
    // large tensor costs a page fault per 4 KB page the first time it is written, on every
    // allocation. The two policies below choose between returning memory and reusing it.
    private const int M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3, M_MMAP_MAX = -4;

    /// <summary>
    /// For streaming jobs that must stay small (convert, sweep): glibc raises its mmap threshold up
    /// to 32 MB after large frees, after which freed tensors of a few MB stay in the heap and
    /// resident memory only grows. A fixed 1 MB threshold makes every large tensor its own mapping,
    /// returned to the system the moment it is freed.
    /// </summary>
    public static void ReturnLargeBuffersToTheSystem() => Mallopt(M_MMAP_THRESHOLD, 1 << 20);

    /// <summary>
    /// For jobs that repeat the same allocations (eval, generate, train and a fine-tune): every
    /// tensor comes from the heap and freed memory stays there for the next step, so only the
    /// first step touches new pages. Measured on this project's 2-core VM, where a page fault is
    /// expensive: eval 230 → 306 tokens/s, train 420 → 760, and a batched decode at 2048 context
    /// on libtorch 2.6 6.4 → 57 tokens/s (its score buffers are fresh every token). Peak resident
    /// memory: eval the same (1.33 vs 1.35 GB), train +7 % (2.16 vs 2.02 GB); it no longer falls
    /// after a peak until the process exits, which a one-shot command does not need.
    /// </summary>
    public static void KeepFreedBuffersForReuse()
    {
        Mallopt(M_MMAP_MAX, 0);                  // no block gets its own mapping (glibc still maps one if the heap cannot grow)
        Mallopt(M_TRIM_THRESHOLD, int.MaxValue); // and the heap's free top is kept, not returned
    }

    private static void Mallopt(int parameter, int value)
    {
        if (!OperatingSystem.IsLinux()) return;
        try { _ = mallopt(parameter, value); }
        catch (EntryPointNotFoundException) { } // not glibc
        catch (DllNotFoundException) { }
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern int mallopt(int parameter, int value);

    /// <summary>
    /// Call before the first tensor exists. libtorch's OpenMP threads spin while they wait, and
    /// OpenBLAS runs its own threads: on a few cores they fight, and a forward pass of small
    /// matrices (decoding one token) ran 4× slower with 2 threads than with one. Passive waiting
    /// fixes that and is no slower on large ones (eval of 2048-token sequences: +8 %). A value the
    /// user set is kept. (libgomp reads it when it loads, so it must be in the C environment.)
    /// </summary>
    public static void PreferPassiveThreadWaits()
    {
        if (!OperatingSystem.IsLinux()) return;
        try { _ = setenv("OMP_WAIT_POLICY", "PASSIVE", 0); }
        catch (EntryPointNotFoundException) { }
        catch (DllNotFoundException) { }
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern int setenv(string name, string value, int overwrite);

    /// <summary>Parses --device and checks that this libtorch can run there.</summary>
    public static Device ResolveDevice(string text)
    {
        Device device;
        try
        {
            device = Device.Parse(text);
        }
        catch (ArgumentException e)
        {
            throw new InvalidInputException($"--device: {e.Message}");
        }
        if (device.type == DeviceType.CUDA)
        {
            if (!torch.cuda.is_available())
                throw new InvalidInputException(
                    $"--device {text}: this libtorch build has no usable CUDA (Debian's libtorch is CPU-only); use --device cpu, or build against a CUDA libtorch (MHA2MLA_LIBTORCH, or a CUDA PyTorch: README, 'Which libtorch')");
            var count = torch.cuda.device_count();
            if (device.index >= count)
                throw new InvalidInputException($"--device {text}: only {count} CUDA device(s) are visible (cuda:0..cuda:{count - 1})");
        }
        return device;
    }
}
