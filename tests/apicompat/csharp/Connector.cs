// Version 1 of a small connector library. tests/apicompat/conftest.py derives one variant
// per kind of API change from it (CONNECTOR_VARIANTS) by replacing text.
using System;

namespace Enventa.Connector
{
    public enum Status { Open = 1, Closed = 2 }

    public interface IOrderSource
    {
        Order[] Fetch(int max);
    }

    public class Order
    {
        public int Id { get; set; }
        public Status Status { get; set; }
    }

    public class Client : IDisposable
    {
        public Client(string baseUrl, int timeout = 30) { }
        public Order Get(int id) { return null; }
        public void Remove(int id) { }
        public int Count(string filter) { return 0; }
        public virtual void Refresh() { }
        public void Dispose() { }
    }

    public class Helper
    {
        public void Run() { }
    }
}
