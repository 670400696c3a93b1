using Mha2Mla.Cli.Commands;
using Mha2Mla.Torch;

namespace Mha2Mla.Cli;

/// <summary>
/// Builds the command tree and runs it, turning every failure into an honest exit code:
/// 2 with one line for bad usage or input, 1 for internal errors (stack trace with --verbose).
/// </summary>
public static class CliApp
{
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand(
            "mha2mla converts Llama-family checkpoints (MHA or GQA) into Multi-head Latent Attention (MLA), " +
            "shrinking the KV cache, following MHA2MLA (Ji et al., 2025).")
        {
            CommonOptions.Json,
            CommonOptions.Verbose,
            CommonOptions.Quiet,
            CommonOptions.Threads,
        };
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(TokenizeCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(ConvertCommand.Create());
        root.Subcommands.Add(SweepCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(DoctorCommand.Create());
        return root;
    }

    /// <summary>The options that name files or folders a command reads (the positional arguments all do).</summary>
    private static readonly HashSet<string> InputOptions = ["--data", "--calib-data", "--eval-data", "--train-data", "--init", "--tokenizer", "--prompts", "--strings"];

    // Every input the user named, so that no output replaces it (OutputDirectory checks them all).
    private static void NameInputs(ParseResult parsed)
    {
        foreach (var child in parsed.CommandResult.Children)
        {
            var named = child is System.CommandLine.Parsing.ArgumentResult
                || child is System.CommandLine.Parsing.OptionResult { Option.Name: var name } && InputOptions.Contains(name);
            if (named) foreach (var token in child.Tokens) Storage.NamedInputs.Add(token.Value);
        }
    }

    public static int Run(string[] args)
    {
        // Numbers in output and JSON look the same on every machine, whatever its locale.
        System.Globalization.CultureInfo.DefaultThreadCurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
        System.Globalization.CultureInfo.CurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
        var root = BuildRoot();
        Storage.NamedInputs.Clear(); // a run in the same process as an earlier one (tests) names its own inputs
        try
        {
            args = Recipe.Expand(args, root);
        }
        catch (InvalidInputException e)
        {
            Console.Error.WriteLine($"mha2mla: error: {e.Message}");
            return ExitCodes.BadInput;
        }
        var parsed = root.Parse(args);
        var verbose = parsed.GetValue(CommonOptions.Verbose);
        CliLog.Configure(verbose, parsed.GetValue(CommonOptions.Quiet));

        if (args.Length > 0 && !args[0].StartsWith('-') && root.Subcommands.All(c => c.Name != args[0]))
        {
            Console.Error.WriteLine($"mha2mla: unknown command '{args[0]}'; the commands are {string.Join(", ", root.Subcommands.Select(c => c.Name))} (see 'mha2mla --help')");
            return ExitCodes.BadInput;
        }
        if (parsed.Errors.Count > 0 && !IsHelpRequest(args))
        {
            var command = parsed.CommandResult.Command;
            var help = command == root ? "mha2mla --help" : $"mha2mla {command.Name} --help";
            Console.Error.WriteLine($"mha2mla: {UsageErrors.OneLine(parsed.Errors[0].Message)} (see '{help}')");
            return ExitCodes.BadInput;
        }

        NameInputs(parsed);
        using var interrupt = Interruption.Handle();
        try
        {
            var code = parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
            // A signal that arrived as the work ended must not end as success: its handler is ending the process with its own line and code.
            if (Interruption.Requested) Thread.Sleep(Timeout.Infinite);
            return code;
        }
        catch (Exception) when (Interruption.Requested)
        {
            Thread.Sleep(Timeout.Infinite); // the signal handler is ending the process with its own line and code
            return ExitCodes.Interrupted;
        }
        catch (InvalidInputException e)
        {
            Console.Error.WriteLine($"mha2mla: error: {e.Message}");
            if (verbose) Console.Error.WriteLine(e);
            return ExitCodes.BadInput;
        }
        catch (Exception e) when (UsageErrors.FromEnvironment(e) is { } message)
        {
            Console.Error.WriteLine($"mha2mla: error: {message}");
            if (verbose) Console.Error.WriteLine(e);
            return ExitCodes.BadInput;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("mha2mla: interrupted");
            return ExitCodes.Interrupted;
        }
        catch (DllNotFoundException e)
        {
            Console.Error.WriteLine($"mha2mla: internal error: the native engine could not be loaded ({e.Message.Split('\n')[0]}); run scripts/setup.sh, then build again");
            if (verbose) Console.Error.WriteLine(e);
            return ExitCodes.InternalError;
        }
        catch (Exception e)
        {
            var source = e is TorchException ? "libtorch: " : "";
            Console.Error.WriteLine($"mha2mla: internal error: {source}{e.Message.Split('\n')[0]}{(verbose ? "" : " (run with --verbose for a stack trace)")}");
            if (verbose) Console.Error.WriteLine(e);
            return ExitCodes.InternalError;
        }
        finally
        {
            Log.CloseAndFlush();
        }
    }

    private static bool IsHelpRequest(string[] args) => args.Any(a => a is "--help" or "-h" or "-?");
}
