using System.Runtime.InteropServices;

namespace Mha2Mla.Storage;

/// <summary>
/// The commit protocol of every command that writes a directory OUT. Before any work: OUT is
/// normalized (trailing slashes, . and .., a link named as OUT is followed), may not be an input
/// or hold one or lie inside one, and is locked for the whole run (a second writer gets exit 2
/// naming the holder's PID). Leftovers of dead runs are cleaned then. The result is built in a
/// temporary sibling and swapped into place in one atomic step (renameat2 RENAME_EXCHANGE), so
/// at every instant OUT is either the old directory or the new one, whole; the old one is deleted
/// only after that. A run that fails, is interrupted (SIGINT/SIGTERM) or killed leaves OUT as
/// it was.
///
/// Runs written in place (train, sweep: their checkpoints must outlive a killed run) create
/// nothing until their first real write (<see cref="BeginWriting"/>), so a run that fails on its
/// input leaves no OUT behind. With --overwrite the old OUT is set aside at that moment and kept
/// until the new run holds something complete of its own (<see cref="ReleasePrevious"/>: a
/// resumable checkpoint, a finished sweep point); until then a failure, or the next run after a
/// kill, puts it back.
/// </summary>
public sealed class OutputDirectory : IDisposable
{
    private const string PartialTag = ".partial-";
    private const string OldTag = ".old-";        // the previous OUT during a swap that renameat2 could not do
    private const string SetAsideTag = ".set-aside-"; // the previous OUT while an in-place --overwrite run has nothing complete
    private const int SharingViolation = unchecked((int)0x80070020); // what .NET reports when another process holds the lock

    private static readonly List<OutputDirectory> Active = [];
    private readonly FileStream lockStream;
    private readonly string ownerFile;
    private string? setAside;        // in-place runs: where --overwrite moved the previous OUT, until released
    private bool replaceExisting;    // in-place runs: an existing OUT is to be set aside at the first write
    private bool writing;            // in-place runs: OUT exists for this run
    private bool committed;

    /// <summary>The normalized OUT.</summary>
    public string Path { get; }
    /// <summary>Where the run writes: a temporary sibling (built, then swapped in) or OUT itself (in place).</summary>
    public string WorkDirectory { get; }
    public bool InPlace => WorkDirectory == Path;

    private OutputDirectory(string path, string work, FileStream lockStream, string ownerFile)
    {
        (Path, WorkDirectory, this.lockStream, this.ownerFile) = (path, work, lockStream, ownerFile);
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
            return new OutputDirectory(path, work, stream, owner);
        }
        catch
        {
            Release(stream, owner);
            throw;
        }
    }

    /// <summary>
    /// Claims OUT as a run directory written in place (train, sweep): locked, and the leftovers of
    /// dead runs cleaned (an interrupted --overwrite's set-aside OUT put back), so that the caller
    /// then sees OUT as the last complete run left it; <see cref="Prepare"/> says what the run does with it.
    /// </summary>
    public static OutputDirectory InPlaceRun(string output, IEnumerable<string> inputs)
    {
        var path = Normalize(output);
        var (stream, owner) = Lock(path, inputs);
        return new OutputDirectory(path, path, stream, owner);
    }

    /// <summary>
    /// <paramref name="resume"/>: continue the run in OUT; otherwise start one, replacing an
    /// existing OUT only with <paramref name="overwrite"/>. Nothing is created or moved yet.
    /// </summary>
    public void Prepare(bool overwrite, bool resume)
    {
        var exists = Directory.Exists(Path);
        if (resume)
        {
            if (!exists) throw new InvalidInputException($"--resume: {Path} does not exist, so it holds no complete checkpoint to resume from; start the run without --resume");
            writing = true;
        }
        else if (exists && !overwrite)
            throw new InvalidInputException($"{Path} already exists; pass --resume to continue its run, --overwrite to start afresh, or choose another -o");
        replaceExisting = exists && !resume;
    }

    /// <summary>In-place runs: makes OUT exist for this run (setting aside the one --overwrite replaces); once, before the first write.</summary>
    public void BeginWriting()
    {
        if (!InPlace || writing) return;
        if (replaceExisting)
        {
            setAside = Sibling(Path, SetAsideTag + Environment.ProcessId);
            Directory.Move(Path, setAside);
        }
        Directory.CreateDirectory(Path);
        writing = true;
    }

    /// <summary>In-place runs: the new OUT now holds something complete, so the OUT it replaces is deleted.</summary>
    public void ReleasePrevious()
    {
        if (setAside is null) return;
        Diagnostics.CrashPoints.Here("before-release-previous");
        Directory.Delete(setAside, recursive: true);
        setAside = null;
    }

    /// <summary>The run succeeded: the new OUT replaces the old one, which is then deleted.</summary>
    public void Commit()
    {
        if (InPlace)
        {
            BeginWriting();   // a run that wrote nothing still leaves its (empty) result
            ReleasePrevious();
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
            else if (setAside is not null && Directory.Exists(setAside)) PutBack(setAside, Path);
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
        for (var above = parent; !string.IsNullOrEmpty(above); above = System.IO.Path.GetDirectoryName(above))
            if (File.Exists(above)) throw new InvalidInputException($"-o {output}: {above} is a file, so no directory can be made inside it; choose another -o");
        Directory.CreateDirectory(parent);
        return System.IO.Path.Combine(RealPath(parent), System.IO.Path.GetFileName(full));
    }

    private static (FileStream, string) Lock(string path, IEnumerable<string> inputs)
    {
        foreach (var input in inputs.Concat(NamedInputs.All).Select(Existing).OfType<string>())
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

    // Where an input lives, links resolved; a glob by the folder it searches. A name that is no
    // path here (a hub id, a missing file that a later check reports) cannot be lost to OUT.
    private static string? Existing(string input)
    {
        if (string.IsNullOrEmpty(input)) return null;
        if (File.Exists(input) || Directory.Exists(input)) return RealPath(input);
        var glob = input.IndexOfAny(['*', '?', '[']);
        if (glob < 0) return null;
        var folder = System.IO.Path.GetDirectoryName(input[..glob] + "x");
        return RealPath(string.IsNullOrEmpty(folder) ? "." : folder);
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
        // An in-place --overwrite that died before its run held anything complete: its OUT is unfinished, the set-aside one is the user's.
        foreach (var aside in Directory.GetDirectories(parent, $".{name}{SetAsideTag}*"))
        {
            Diagnostics.Warnings.Emit($"restoring {path} from {aside}, which an interrupted --overwrite had set aside before its run completed anything");
            PutBack(aside, path);
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

    // The unfinished OUT (if any) goes; the set-aside one takes its place.
    private static void PutBack(string aside, string path)
    {
        if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        Directory.Move(aside, path);
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
