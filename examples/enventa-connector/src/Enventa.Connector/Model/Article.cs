using System;

namespace Enventa.Connector.Model
{
    /// <summary>An article (item master record) as enventa exports it.</summary>
    public sealed class Article
    {
        public string Number { get; set; }
        public string Description { get; set; }
        public string Unit { get; set; }
        public string Gtin { get; set; }
        public bool Blocked { get; set; }
        public DateTime ChangedUtc { get; set; }

        public override string ToString()
        {
            return Number + " " + Description;
        }
    }
}
