namespace Mha2Mla;

/// <summary>
/// The user's input is wrong (a file, a setting, an option). The message is one line that says
/// what is wrong and what to do; the CLI prints it and exits with code 2.
/// </summary>
public class InvalidInputException(string message, Exception? inner = null) : Exception(message, inner);
