using System;
using System.Configuration;
using System.Globalization;
using System.Reflection;
using System.Threading;

namespace Enventa.Connector.Cli
{
    internal static class Program
    {
        private static int Main(string[] args)
        {
            if (args.Length > 0 && (args[0] == "--version" || args[0] == "-v"))
            {
                var info = typeof(EnventaSyncClient).Assembly
                    .GetCustomAttribute<AssemblyInformationalVersionAttribute>();
                Console.WriteLine("Enventa.Connector " + (info != null ? info.InformationalVersion : "unknown"));
                return 0;
            }

            DateTime since;
            if (args.Length == 0 || !DateTime.TryParse(args[0], CultureInfo.InvariantCulture,
                    DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out since))
            {
                Console.Error.WriteLine("usage: Enventa.Connector.Cli SINCE-UTC (e.g. 2024-01-31T00:00:00Z) | --version");
                return 2;
            }

            try
            {
                var settings = ConnectorSettings.FromAppSettings(ConfigurationManager.AppSettings);
                using (var client = new EnventaSyncClient(settings))
                using (var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(10)))
                {
                    var result = client.SyncAsync(since, cancel.Token).GetAwaiter().GetResult();
                    Console.WriteLine("synced from " + settings + ": " + result);
                }
                return 0;
            }
            catch (ConnectorException ex)
            {
                Console.Error.WriteLine("error: " + ex.Message);
                return ex.IsTransient ? 3 : 1;
            }
            catch (ConfigurationErrorsException ex)
            {
                Console.Error.WriteLine("configuration error: " + ex.Message);
                return 2;
            }
        }
    }
}
