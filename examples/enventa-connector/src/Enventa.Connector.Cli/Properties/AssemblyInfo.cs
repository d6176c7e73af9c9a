using System.Reflection;
using System.Runtime.InteropServices;

[assembly: AssemblyTitle("Enventa.Connector.Cli")]
[assembly: AssemblyDescription("Command-line sync tool for the enventa Trade ERP connector.")]
[assembly: AssemblyCompany("B2Connect")]
[assembly: AssemblyProduct("enventa Trade ERP connector")]
[assembly: AssemblyCopyright("Copyright (c) B2Connect")]
[assembly: ComVisible(false)]

[assembly: AssemblyVersion("0.0.0.0")]
[assembly: AssemblyFileVersion("0.0.0.0")]
[assembly: AssemblyInformationalVersion("0.0.0-dev")]
