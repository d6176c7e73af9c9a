using System.Reflection;
using System.Runtime.InteropServices;

[assembly: AssemblyTitle("Enventa.Connector")]
[assembly: AssemblyDescription("B2Connect connector for the enventa Trade ERP: article, price and stock sync.")]
[assembly: AssemblyCompany("B2Connect")]
[assembly: AssemblyProduct("enventa Trade ERP connector")]
[assembly: AssemblyCopyright("Copyright (c) B2Connect")]
[assembly: ComVisible(false)]
[assembly: Guid("0b6f3a52-7d1e-4c2a-9f35-8e4b1c6d2a90")]

// b2release stamps the release version into every build; these are the values of a
// developer build (never shipped).
[assembly: AssemblyVersion("0.0.0.0")]
[assembly: AssemblyFileVersion("0.0.0.0")]
[assembly: AssemblyInformationalVersion("0.0.0-dev")]
