using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Enventa.Connector.Model;

namespace Enventa.Connector
{
    /// <summary>Pulls master data changed since a point in time from the enventa Trade ERP.</summary>
    public interface IEnventaSyncClient : IDisposable
    {
        Task<IReadOnlyList<Article>> GetArticlesChangedSinceAsync(DateTime sinceUtc, CancellationToken cancellationToken);

        Task<IReadOnlyList<Price>> GetPricesAsync(IEnumerable<string> articleNumbers, CancellationToken cancellationToken);

        Task<IReadOnlyList<Stock>> GetStockAsync(IEnumerable<string> articleNumbers, CancellationToken cancellationToken);

        Task<SyncResult> SyncAsync(DateTime sinceUtc, CancellationToken cancellationToken);
    }
}
