namespace Enventa.Connector.Model
{
    /// <summary>Stock of an article in one warehouse.</summary>
    public sealed class Stock
    {
        public string ArticleNumber { get; set; }
        public string Warehouse { get; set; }
        public decimal OnHand { get; set; }
        public decimal Reserved { get; set; }

        public decimal Available
        {
            get { return OnHand - Reserved; }
        }
    }
}
