using Mha2Mla.Cli;

Mha2Mla.Runtime.PreferPassiveThreadWaits(); // before libtorch loads
return CliApp.Run(args);
