using System;

namespace Enventa.Connector
{
    /// <summary>What one sync run fetched.</summary>
    public sealed class SyncResult
    {
        public SyncResult(DateTime startedUtc, int articles, int prices, int stockRecords)
        {
            StartedUtc = startedUtc;
            Articles = articles;
            Prices = prices;
            StockRecords = stockRecords;
        }

        public DateTime StartedUtc { get; }
        public int Articles { get; }
        public int Prices { get; }
        public int StockRecords { get; }

        public override string ToString()
        {
            return Articles + " articles, " + Prices + " prices, " + StockRecords + " stock records";
        }
    }
}
