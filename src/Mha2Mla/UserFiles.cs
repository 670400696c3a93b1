using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mha2Mla;

/// <summary>
/// Every file a user names — a recipe, prompts, data, config.json, tokenizer.json, a resume
/// state — is opened through here, so that one rule holds for all of them: the name must lead
/// (links followed) to a regular file this process can read. A FIFO would block the read forever,
/// /dev/zero would never end, a directory or a looping link would surface as a .NET exception;
/// each is refused up front with a line that says what the name is and what to do. Text is
/// bounded in size and must be UTF-8; JSON is read strictly (no trailing commas, no duplicate
/// keys), as Python's json module and so transformers read it, the same for every command.
/// </summary>
public static class UserFiles
{
    /// <summary>The largest text file read whole (a config, a recipe, a prompt list, a tokenizer.json).</summary>
    public const long TextLimit = 1L << 30;

    private static readonly JsonDocumentOptions StrictJson = new() { AllowTrailingCommas = false, AllowDuplicateProperties = false, CommentHandling = JsonCommentHandling.Disallow };

    /// <summary>Checks that <paramref name="path"/> is a readable regular file and returns its length; <paramref name="label"/> starts the error line (e.g. "--config recipe.yaml").</summary>
    public static long RequireRegular(string path, string? label = null)
    {
        label ??= path;
        var (kind, length, error) = Stat(path);
        var why = error switch
        {
            0 => kind switch
            {
                Regular => null,
                Directory => "is a directory, not a file",
                Fifo => "is a FIFO (named pipe), which would wait forever for a writer; name a regular file",
                CharDevice or BlockDevice => "is a device, not a file; name a regular file",
                Socket => "is a socket, not a file; name a regular file",
                _ => "is not a regular file",
            },
            ENOENT or ENOTDIR => FileLinks.Missing(path),
            ELOOP => "is a symbolic link that loops (or a chain of more than 40); point it at a file",
            EACCES => "cannot be read (permission denied)",
            ENAMETOOLONG => "is too long a path name",
            _ => $"cannot be read ({Marshal.GetPInvokeErrorMessage(error)})",
        };
        if (why is not null) throw new InvalidInputException($"{label}: {why}");
        try
        {
            using var handle = File.OpenHandle(path); // permission checks statx does not make
        }
        catch (UnauthorizedAccessException)
        {
            throw new InvalidInputException($"{label}: cannot be read (permission denied)");
        }
        return length;
    }

    /// <summary>A regular file opened for reading (data files, streamed).</summary>
    public static FileStream OpenRead(string path, string? label = null, int bufferSize = 1 << 16)
    {
        RequireRegular(path, label);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize);
    }

    public static byte[] ReadBytes(string path, string? label = null, long limit = TextLimit)
    {
        var length = RequireRegular(path, label);
        if (length > limit) throw new InvalidInputException($"{label ?? path}: {length:N0} bytes, more than the {limit:N0} such a file may have; is it the right file?");
        return File.ReadAllBytes(path);
    }

    /// <summary>The file as UTF-8 text (a byte-order mark is dropped).</summary>
    public static string ReadText(string path, string? label = null, long limit = TextLimit)
    {
        var bytes = ReadBytes(path, label, limit);
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw new InvalidInputException($"{label ?? path}: not UTF-8 text; the file is corrupt or of another kind");
        var text = System.Text.Encoding.UTF8.GetString(bytes);
        return text.Length > 0 && text[0] == '\uFEFF' ? text[1..] : text;
    }

    /// <summary>A JSON file, read strictly; its error says where the JSON breaks.</summary>
    public static JsonDocument ReadJson(string path, string? label = null)
    {
        var text = ReadText(path, label);
        try
        {
            return JsonDocument.Parse(text, StrictJson);
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{label ?? path}: not valid JSON ({JsonError(e)})");
        }
    }

    /// <summary>A JSON object file (config.json, generation_config.json), read strictly.</summary>
    public static JsonObject ReadJsonObject(string path, string? label = null)
    {
        using var document = ReadJson(path, label);
        if (document.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidInputException($"{label ?? path}: not a JSON object");
        return JsonObject.Create(document.RootElement.Clone())!;
    }

    private static string JsonError(JsonException e)
    {
        var message = e.Message.Split('\n')[0];
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).TrimEnd('.') + (e.LineNumber is { } line ? $", line {line + 1}" : "");
    }

    // File types (statx's stx_mode & S_IFMT) and the errno values statx answers with.
    private const int Regular = 0x8000, Directory = 0x4000, Fifo = 0x1000, CharDevice = 0x2000, BlockDevice = 0x6000, Socket = 0xC000;
    private const int ENOENT = 2, EACCES = 13, ENOTDIR = 20, ENAMETOOLONG = 36, ELOOP = 40;

    // statx (Linux 4.11+, glibc 2.28+) because its struct is the same on every architecture,
    // where stat's is not: stx_mode is the u16 at byte 28, stx_size the u64 at byte 40.
    private static unsafe (int Kind, long Length, int Error) Stat(string path)
    {
        const int AtCurrentDirectory = -100;
        const uint TypeAndSize = 0x1 | 0x200; // STATX_TYPE | STATX_SIZE
        var buffer = stackalloc byte[256];
        if (statx(AtCurrentDirectory, path, 0, TypeAndSize, buffer) != 0) return (0, 0, Marshal.GetLastPInvokeError());
        return (*(ushort*)(buffer + 28) & 0xF000, *(long*)(buffer + 40), 0);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern unsafe int statx(int directory, string path, int flags, uint mask, byte* buffer);
}
