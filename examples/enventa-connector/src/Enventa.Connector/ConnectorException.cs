using System;

namespace Enventa.Connector
{
    /// <summary>A failure talking to the ERP, with the HTTP status when there was one.</summary>
    [Serializable]
    public class ConnectorException : Exception
    {
        public ConnectorException(string message) : base(message) { }

        public ConnectorException(string message, Exception inner) : base(message, inner) { }

        public ConnectorException(string message, int statusCode) : base(message)
        {
            StatusCode = statusCode;
        }

        public int? StatusCode { get; }

        public bool IsTransient
        {
            get { return StatusCode == null || StatusCode == 429 || StatusCode >= 500; }
        }
    }
}
