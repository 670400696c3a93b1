using Mha2Mla.Cli;
using Mha2Mla.Diagnostics;

Engine.PreferPassiveThreadWaits(); // before libtorch loads
return CliApp.Run(args);
