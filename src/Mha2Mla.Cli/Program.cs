using Mha2Mla.Cli;

return CliApp.Run(args);
