using System.Runtime.InteropServices;

namespace Mha2Mla.Checkpoints;

/// <summary>
/// The commit protocol of every command that writes a directory OUT. Before any work: OUT is
/// normalized (trailing slashes, . and .., a link named as OUT is followed), may not be an input
/// or hold one or lie inside one, and is locked for the whole run (a second writer gets exit 2
/// naming the holder's PID). Leftovers of dead runs are cleaned then. The result is built in a
/// temporary sibling and swapped into place in one atomic step (renameat2 RENAME_EXCHANGE), so
/// at every instant OUT is either the old directory or the new one, whole; the old one is deleted
/// only after that. A run that fails, is interrupted (SIGINT/SIGTERM) or killed leaves OUT as
/// it was.
/// </summary>
public sealed class OutputDirectory : IDisposable
{
    private const string PartialTag = ".partial-";
    private const string OldTag = ".old-";
    private const int SharingViolation = unchecked((int)0x80070020); // what .NET reports when another process holds the lock

    private static readonly List<OutputDirectory> Active = [];
    private readonly FileStream lockStream;
    private readonly string ownerFile;
    private readonly string? displacedOld; // in-place runs: the OUT that --overwrite set aside
    private bool committed;

    /// <summary>The normalized OUT.</summary>
    public string Path { get; }
    /// <summary>Where the run writes: a temporary sibling (built, then swapped in) or OUT itself (in place).</summary>
    public string WorkDirectory { get; }
    public bool InPlace => WorkDirectory == Path;

    private OutputDirectory(string path, string work, FileStream lockStream, string ownerFile, string? displacedOld)
    {
        (Path, WorkDirectory, this.lockStream, this.ownerFile, this.displacedOld) = (path, work, lockStream, ownerFile, displacedOld);
        lock (Active) Active.Add(this);
    }

    /// <summary>Claims OUT for a result built aside and swapped in at <see cref="Commit"/> (convert).</summary>
    public static OutputDirectory ForNewResult(string output, bool overwrite, IEnumerable<string> inputs)
    {
        var path = Normalize(output);
        var (stream, owner) = Lock(path, inputs);
        try
        {
            if (Directory.Exists(path) && !overwrite) throw new InvalidInputException($"{output} already exists; pass --overwrite to replace it");
            var work = Sibling(path, PartialTag + Environment.ProcessId);
            Directory.CreateDirectory(work);
            return new OutputDirectory(path, work, stream, owner, null);
        }
        catch
        {
            Release(stream, owner);
            throw;
        }
    }

    /// <summary>
    /// Claims OUT as a run directory written in place (train: its resumable checkpoints must
    /// outlive a killed run). With <paramref name="overwrite"/> an existing OUT is set aside
    /// first and deleted at <see cref="Commit"/>, or put back if the run fails.
    /// </summary>
    public static OutputDirectory InPlaceRun(string output, bool overwrite, bool resume, IEnumerable<string> inputs)
    {
        var path = Normalize(output);
        var (stream, owner) = Lock(path, inputs);
        try
        {
            string? old = null;
            if (resume)
            {
                if (!Directory.Exists(path)) throw new InvalidInputException($"--resume: {output} does not exist, so it holds no complete checkpoint to resume from; start the run without --resume");
            }
            else if (Directory.Exists(path))
            {
                if (!overwrite)
                    throw new InvalidInputException($"{output} already exists; pass --resume to continue its run, --overwrite to start afresh, or choose another -o");
                old = Sibling(path, OldTag + Environment.ProcessId);
                Directory.Move(path, old);
            }
            Directory.CreateDirectory(path);
            return new OutputDirectory(path, path, stream, owner, old);
        }
        catch
        {
            Release(stream, owner);
            throw;
        }
    }

    /// <summary>The run succeeded: the new OUT replaces the old one, which is then deleted.</summary>
    public void Commit()
    {
        if (InPlace)
        {
            if (displacedOld is not null) Directory.Delete(displacedOld, recursive: true);
        }
        else if (Directory.Exists(Path))
        {
            Diagnostics.CrashPoints.Here("before-swap");
            Exchange(WorkDirectory, Path);           // OUT is now the new result; WorkDirectory holds the old one
            Diagnostics.CrashPoints.Here("after-swap");
            Directory.Delete(WorkDirectory, recursive: true);
        }
        else
        {
            Directory.Move(WorkDirectory, Path);
        }
        committed = true;
    }

    public void Dispose()
    {
        if (!committed) Abandon();
        lock (Active) Active.Remove(this);
        Release(lockStream, ownerFile);
    }

    /// <summary>Undoes an unfinished run: deletes what it built and puts back an OUT it set aside.</summary>
    private void Abandon()
    {
        try
        {
            if (!InPlace) { if (Directory.Exists(WorkDirectory)) Directory.Delete(WorkDirectory, recursive: true); }
            else if (displacedOld is not null && Directory.Exists(displacedOld))
            {
                if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
                Directory.Move(displacedOld, Path);
            }
        }
        catch (IOException) { } // the next run on this OUT cleans what is left
    }

    /// <summary>For a signal handler: abandon every unfinished output of this process.</summary>
    public static void AbandonAll()
    {
        OutputDirectory[] all;
        lock (Active) all = [.. Active];
        foreach (var output in all) if (!output.committed) output.Abandon();
    }

    public static string Normalize(string output)
    {
        if (string.IsNullOrWhiteSpace(output)) throw new InvalidInputException("-o needs a directory name");
        var full = System.IO.Path.GetFullPath(output);
        full = System.IO.Path.TrimEndingDirectorySeparator(full);
        if (File.Exists(full)) throw new InvalidInputException($"-o {output} is a file; -o names the output directory");
        // Links resolved (one named as OUT too: the output is what it points to), so that every
        // spelling of one OUT takes the same lock.
        if (Directory.Exists(full)) full = RealPath(full);
        if (full == "/") throw new InvalidInputException($"-o {output}: the root directory cannot be an output");
        var parent = System.IO.Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        return System.IO.Path.Combine(RealPath(parent), System.IO.Path.GetFileName(full));
    }

    private static (FileStream, string) Lock(string path, IEnumerable<string> inputs)
    {
        foreach (var input in inputs.Where(i => !string.IsNullOrEmpty(i)).Select(i => RealPath(i)))
        {
            if (Within(input, path))
                throw new InvalidInputException($"-o {path} would replace the input {input}; write the output somewhere else");
            if (Within(path, input))
                throw new InvalidInputException($"-o {path} lies inside the input {input}; write the output somewhere else");
        }
        var lockPath = Sibling(path, ".lock");
        var owner = Sibling(path, ".owner");
        FileStream stream;
        try
        {
            stream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e.HResult == SharingViolation || e.Message.Contains("being used by another process", StringComparison.Ordinal))
        {
            var holder = File.Exists(owner) ? File.ReadAllText(owner).Trim() : "unknown";
            throw new InvalidInputException($"{path} is being written by another mha2mla process (PID {holder}); wait for it, or choose another -o");
        }
        File.WriteAllText(owner, Environment.ProcessId.ToString());
        CleanLeftovers(path);
        return (stream, owner);
    }

    private static void Release(FileStream stream, string owner)
    {
        try { File.Delete(owner); } catch (IOException) { }
        stream.Dispose();
    }

    // With the lock held no live run writes this OUT, so every partial or set-aside copy is a dead run's.
    private static void CleanLeftovers(string path)
    {
        var parent = System.IO.Path.GetDirectoryName(path)!;
        var name = System.IO.Path.GetFileName(path);
        foreach (var partial in Directory.GetDirectories(parent, $".{name}{PartialTag}*"))
        {
            Diagnostics.Warnings.Emit($"removing {partial}, left by a run that did not finish");
            Directory.Delete(partial, recursive: true);
        }
        foreach (var old in Directory.GetDirectories(parent, $".{name}{OldTag}*"))
        {
            if (Directory.Exists(path))
            {
                Diagnostics.Warnings.Emit($"removing {old}, the copy of {path} that an interrupted --overwrite had set aside");
                Directory.Delete(old, recursive: true);
            }
            else
            {
                Diagnostics.Warnings.Emit($"restoring {path} from {old}, which an interrupted --overwrite had set aside");
                Directory.Move(old, path);
            }
        }
    }

    private static string Sibling(string path, string tag) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path)!, $".{System.IO.Path.GetFileName(path)}{tag}");

    private static bool Within(string inner, string outer) =>
        inner == outer || inner.StartsWith(outer + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal);

    // The kernel's view of a path (links resolved), for paths that exist; others are made absolute.
    private static string RealPath(string path)
    {
        var full = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(path));
        var pointer = realpath(full, IntPtr.Zero);
        if (pointer == IntPtr.Zero) return full;
        try { return Marshal.PtrToStringUTF8(pointer) ?? full; }
        finally { free(pointer); }
    }

    // Swaps two directories in one step; where the file system cannot, falls back to two renames.
    private static void Exchange(string a, string b)
    {
        const int AtCurrentDirectory = -100, RenameExchange = 2;
        if (renameat2(AtCurrentDirectory, a, AtCurrentDirectory, b, RenameExchange) == 0) return;
        var aside = Sibling(b, OldTag + Environment.ProcessId); // restored by the next run if we die in between
        Directory.Move(b, aside);
        Directory.Move(a, b);
        Directory.Move(aside, a);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int renameat2(int oldDirectory, string oldPath, int newDirectory, string newPath, uint flags);

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr realpath(string path, IntPtr resolved);

    [DllImport("libc")]
    private static extern void free(IntPtr pointer);
}
