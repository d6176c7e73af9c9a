using System;
using System.Collections.Specialized;
using System.Configuration;
using System.Globalization;

namespace Enventa.Connector
{
    /// <summary>Connection settings for the enventa Trade ERP REST endpoint.</summary>
    public sealed class ConnectorSettings
    {
        public const int DefaultPageSize = 500;

        public ConnectorSettings(Uri baseUrl, string tenant, string apiKey)
        {
            if (baseUrl == null) throw new ArgumentNullException(nameof(baseUrl));
            if (string.IsNullOrWhiteSpace(tenant)) throw new ArgumentException("tenant is required", nameof(tenant));
            BaseUrl = baseUrl;
            Tenant = tenant;
            ApiKey = apiKey ?? string.Empty;
            PageSize = DefaultPageSize;
            Timeout = TimeSpan.FromSeconds(30);
            MaxRetries = 3;
        }

        public Uri BaseUrl { get; }
        public string Tenant { get; }
        public string ApiKey { get; }
        public int PageSize { get; set; }
        public TimeSpan Timeout { get; set; }
        public int MaxRetries { get; set; }

        /// <summary>Reads Enventa.* keys from an appSettings section.</summary>
        public static ConnectorSettings FromAppSettings(NameValueCollection appSettings)
        {
            if (appSettings == null) throw new ArgumentNullException(nameof(appSettings));
            var baseUrl = appSettings["Enventa.BaseUrl"];
            if (string.IsNullOrEmpty(baseUrl))
                throw new ConfigurationErrorsException("appSettings key Enventa.BaseUrl is missing");
            var settings = new ConnectorSettings(
                new Uri(baseUrl, UriKind.Absolute),
                appSettings["Enventa.Tenant"] ?? "default",
                appSettings["Enventa.ApiKey"]);
            int pageSize;
            if (int.TryParse(appSettings["Enventa.PageSize"], NumberStyles.Integer, CultureInfo.InvariantCulture, out pageSize)
                && pageSize > 0)
            {
                settings.PageSize = pageSize;
            }
            return settings;
        }

        public override string ToString()
        {
            // Never print the API key.
            return string.Format(CultureInfo.InvariantCulture, "{0} (tenant {1}, page size {2})", BaseUrl, Tenant, PageSize);
        }
    }
}
