using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Threading;
using System.Threading.Tasks;
using Enventa.Connector.Model;

namespace Enventa.Connector
{
    /// <summary>
    /// Talks to the enventa Trade ERP export endpoint. The ERP exports semicolon-separated
    /// records, one per line, page by page; this client pages, retries transient failures
    /// and maps the records to the DTOs.
    /// </summary>
    public sealed class EnventaSyncClient : IEnventaSyncClient
    {
        private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;
        private readonly ConnectorSettings _settings;
        private readonly HttpClient _http;
        private readonly bool _ownsHttp;

        public EnventaSyncClient(ConnectorSettings settings)
            : this(settings, new HttpClient(), true)
        {
        }

        public EnventaSyncClient(ConnectorSettings settings, HttpClient http, bool ownsHttp)
        {
            if (settings == null) throw new ArgumentNullException(nameof(settings));
            if (http == null) throw new ArgumentNullException(nameof(http));
            _settings = settings;
            _http = http;
            _ownsHttp = ownsHttp;
            _http.BaseAddress = settings.BaseUrl;
            _http.Timeout = settings.Timeout;
            _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
            if (settings.ApiKey.Length > 0)
                _http.DefaultRequestHeaders.Add("X-Api-Key", settings.ApiKey);
        }

        public async Task<IReadOnlyList<Article>> GetArticlesChangedSinceAsync(DateTime sinceUtc, CancellationToken cancellationToken)
        {
            var since = sinceUtc.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", Invariant);
            var rows = await GetPagedAsync("tenants/" + _settings.Tenant + "/articles?changedSince=" + since, cancellationToken)
                .ConfigureAwait(false);
            return rows.Select(ParseArticle).ToList();
        }

        public async Task<IReadOnlyList<Price>> GetPricesAsync(IEnumerable<string> articleNumbers, CancellationToken cancellationToken)
        {
            var rows = await GetPagedAsync("tenants/" + _settings.Tenant + "/prices?articles=" + Join(articleNumbers), cancellationToken)
                .ConfigureAwait(false);
            return rows.Select(ParsePrice).ToList();
        }

        public async Task<IReadOnlyList<Stock>> GetStockAsync(IEnumerable<string> articleNumbers, CancellationToken cancellationToken)
        {
            var rows = await GetPagedAsync("tenants/" + _settings.Tenant + "/stock?articles=" + Join(articleNumbers), cancellationToken)
                .ConfigureAwait(false);
            return rows.Select(ParseStock).ToList();
        }

        public async Task<SyncResult> SyncAsync(DateTime sinceUtc, CancellationToken cancellationToken)
        {
            var started = DateTime.UtcNow;
            var articles = await GetArticlesChangedSinceAsync(sinceUtc, cancellationToken).ConfigureAwait(false);
            var numbers = articles.Where(a => !a.Blocked).Select(a => a.Number).ToList();
            if (numbers.Count == 0)
                return new SyncResult(started, articles.Count, 0, 0);
            var prices = await GetPricesAsync(numbers, cancellationToken).ConfigureAwait(false);
            var stock = await GetStockAsync(numbers, cancellationToken).ConfigureAwait(false);
            return new SyncResult(started, articles.Count, prices.Count, stock.Count);
        }

        public void Dispose()
        {
            if (_ownsHttp)
                _http.Dispose();
        }

        private static string Join(IEnumerable<string> numbers)
        {
            return string.Join(",", numbers.Select(Uri.EscapeDataString));
        }

        private async Task<List<string[]>> GetPagedAsync(string path, CancellationToken cancellationToken)
        {
            var rows = new List<string[]>();
            for (var page = 0; ; page++)
            {
                var url = path + "&page=" + page.ToString(Invariant) + "&pageSize=" + _settings.PageSize.ToString(Invariant);
                var body = await GetWithRetryAsync(url, cancellationToken).ConfigureAwait(false);
                var count = 0;
                using (var reader = new StringReader(body))
                {
                    string line;
                    while ((line = reader.ReadLine()) != null)
                    {
                        if (line.Length == 0 || line[0] == '#')
                            continue;
                        rows.Add(line.Split(';'));
                        count++;
                    }
                }
                if (count < _settings.PageSize)
                    return rows;
            }
        }

        private async Task<string> GetWithRetryAsync(string url, CancellationToken cancellationToken)
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    using (var response = await _http.GetAsync(url, cancellationToken).ConfigureAwait(false))
                    {
                        if (!response.IsSuccessStatusCode)
                            throw new ConnectorException("GET " + url + " returned " + (int)response.StatusCode, (int)response.StatusCode);
                        return await response.Content.ReadAsStringAsync().ConfigureAwait(false);
                    }
                }
                catch (ConnectorException ex) when (ex.IsTransient && attempt < _settings.MaxRetries)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200 << attempt), cancellationToken).ConfigureAwait(false);
                }
                catch (HttpRequestException ex)
                {
                    if (attempt >= _settings.MaxRetries)
                        throw new ConnectorException("GET " + url + " failed: " + ex.Message, ex);
                }
            }
        }

        private static Article ParseArticle(string[] f)
        {
            return new Article
            {
                Number = Field(f, 0),
                Description = Field(f, 1),
                Unit = Field(f, 2),
                Gtin = Field(f, 3),
                Blocked = Field(f, 4) == "1",
                ChangedUtc = DateTime.Parse(Field(f, 5), Invariant, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal),
            };
        }

        private static Price ParsePrice(string[] f)
        {
            return new Price
            {
                ArticleNumber = Field(f, 0),
                PriceList = Field(f, 1),
                Amount = decimal.Parse(Field(f, 2), Invariant),
                Currency = Field(f, 3),
                MinimumQuantity = f.Length > 4 ? decimal.Parse(Field(f, 4), Invariant) : 1m,
            };
        }

        private static Stock ParseStock(string[] f)
        {
            return new Stock
            {
                ArticleNumber = Field(f, 0),
                Warehouse = Field(f, 1),
                OnHand = decimal.Parse(Field(f, 2), Invariant),
                Reserved = f.Length > 3 ? decimal.Parse(Field(f, 3), Invariant) : 0m,
            };
        }

        private static string Field(string[] fields, int index)
        {
            if (index >= fields.Length)
                throw new ConnectorException("record has " + fields.Length + " fields, expected at least " + (index + 1));
            return fields[index].Trim();
        }
    }
}
