using System;

namespace Enventa.Connector.Model
{
    /// <summary>A net sales price for an article, per price list and quantity break.</summary>
    public sealed class Price
    {
        public string ArticleNumber { get; set; }
        public string PriceList { get; set; }
        public decimal Amount { get; set; }
        public string Currency { get; set; }
        public decimal MinimumQuantity { get; set; }
        public DateTime? ValidFrom { get; set; }
        public DateTime? ValidTo { get; set; }

        public bool IsValidOn(DateTime day)
        {
            return (ValidFrom == null || ValidFrom.Value.Date <= day.Date)
                && (ValidTo == null || ValidTo.Value.Date >= day.Date);
        }
    }
}
