using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;

namespace Enventa.Connector.Tests
{
    /// <summary>An in-memory enventa export endpoint: canned responses by path, every request recorded.</summary>
    internal sealed class FakeErp : HttpMessageHandler
    {
        private readonly Dictionary<string, Queue<HttpResponseMessage>> _responses =
            new Dictionary<string, Queue<HttpResponseMessage>>(StringComparer.Ordinal);

        public List<Uri> Requests { get; } = new List<Uri>();

        public FakeErp Returns(string pathAndQuery, string body)
        {
            return Returns(pathAndQuery, new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body) });
        }

        public FakeErp Fails(string pathAndQuery, HttpStatusCode status)
        {
            return Returns(pathAndQuery, new HttpResponseMessage(status) { Content = new StringContent("") });
        }

        private FakeErp Returns(string pathAndQuery, HttpResponseMessage response)
        {
            Queue<HttpResponseMessage> queue;
            if (!_responses.TryGetValue(pathAndQuery, out queue))
            {
                queue = new Queue<HttpResponseMessage>();
                _responses[pathAndQuery] = queue;
            }
            queue.Enqueue(response);
            return this;
        }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Add(request.RequestUri);
            Queue<HttpResponseMessage> queue;
            var key = request.RequestUri.PathAndQuery;
            if (_responses.TryGetValue(key, out queue) && queue.Count > 0)
                return Task.FromResult(queue.Count > 1 ? queue.Dequeue() : queue.Peek());
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.NotFound) { Content = new StringContent("") });
        }

        public static EnventaSyncClient Client(FakeErp erp, int pageSize = 500)
        {
            var settings = new ConnectorSettings(new Uri("http://erp.example.invalid/api/"), "acme", "k-123")
            {
                PageSize = pageSize,
                MaxRetries = 2,
            };
            return new EnventaSyncClient(settings, new HttpClient(erp), true);
        }
    }
}
