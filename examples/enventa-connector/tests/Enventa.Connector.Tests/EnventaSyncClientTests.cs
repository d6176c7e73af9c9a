using System;
using System.Linq;
using System.Net;
using System.Threading;
using NUnit.Framework;

namespace Enventa.Connector.Tests
{
    [TestFixture]
    public class EnventaSyncClientTests
    {
        private const string Articles = "/api/tenants/acme/articles?changedSince=2024-01-01T00:00:00Z";
        private static readonly DateTime Since = new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);

        [Test]
        public void ParsesArticlesAndSkipsCommentsAndBlankLines()
        {
            var erp = new FakeErp().Returns(Articles + "&page=0&pageSize=500",
                "# number;description;unit;gtin;blocked;changed\n" +
                "A-1; Pump ;pcs;4006381333931;0;2024-01-02T10:00:00Z\n" +
                "\n" +
                "A-2;Valve;pcs;;1;2024-01-03T11:30:00Z\n");
            using (var client = FakeErp.Client(erp))
            {
                var articles = client.GetArticlesChangedSinceAsync(Since, CancellationToken.None).GetAwaiter().GetResult();
                Assert.AreEqual(2, articles.Count);
                Assert.AreEqual("A-1", articles[0].Number);
                Assert.AreEqual("Pump", articles[0].Description);
                Assert.IsFalse(articles[0].Blocked);
                Assert.IsTrue(articles[1].Blocked);
                Assert.AreEqual(new DateTime(2024, 1, 3, 11, 30, 0, DateTimeKind.Utc), articles[1].ChangedUtc);
            }
        }

        [Test]
        public void PagesUntilAShortPage()
        {
            var erp = new FakeErp()
                .Returns(Articles + "&page=0&pageSize=2", "A-1;a;pcs;;0;2024-01-02T00:00:00Z\nA-2;b;pcs;;0;2024-01-02T00:00:00Z\n")
                .Returns(Articles + "&page=1&pageSize=2", "A-3;c;pcs;;0;2024-01-02T00:00:00Z\n");
            using (var client = FakeErp.Client(erp, pageSize: 2))
            {
                var articles = client.GetArticlesChangedSinceAsync(Since, CancellationToken.None).GetAwaiter().GetResult();
                CollectionAssert.AreEqual(new[] { "A-1", "A-2", "A-3" }, articles.Select(a => a.Number).ToArray());
                Assert.AreEqual(2, erp.Requests.Count);
            }
        }

        [Test]
        public void RetriesAServerErrorThenSucceeds()
        {
            var erp = new FakeErp()
                .Fails(Articles + "&page=0&pageSize=500", HttpStatusCode.ServiceUnavailable)
                .Returns(Articles + "&page=0&pageSize=500", "A-1;a;pcs;;0;2024-01-02T00:00:00Z\n");
            using (var client = FakeErp.Client(erp))
            {
                var articles = client.GetArticlesChangedSinceAsync(Since, CancellationToken.None).GetAwaiter().GetResult();
                Assert.AreEqual(1, articles.Count);
                Assert.AreEqual(2, erp.Requests.Count);
            }
        }

        [Test]
        public void DoesNotRetryAClientError()
        {
            var erp = new FakeErp().Fails(Articles + "&page=0&pageSize=500", HttpStatusCode.NotFound);
            using (var client = FakeErp.Client(erp))
            {
                var ex = Assert.Throws<ConnectorException>(
                    () => client.GetArticlesChangedSinceAsync(Since, CancellationToken.None).GetAwaiter().GetResult());
                Assert.AreEqual(404, ex.StatusCode);
                Assert.AreEqual(1, erp.Requests.Count);
            }
        }

        [Test]
        public void ARecordWithTooFewFieldsIsRejected()
        {
            var erp = new FakeErp().Returns(Articles + "&page=0&pageSize=500", "A-1;only two\n");
            using (var client = FakeErp.Client(erp))
            {
                var ex = Assert.Throws<ConnectorException>(
                    () => client.GetArticlesChangedSinceAsync(Since, CancellationToken.None).GetAwaiter().GetResult());
                StringAssert.Contains("expected at least", ex.Message);
            }
        }

        [Test]
        public void SyncFetchesPricesAndStockOfUnblockedArticlesOnly()
        {
            var erp = new FakeErp()
                .Returns(Articles + "&page=0&pageSize=500",
                    "A-1;a;pcs;;0;2024-01-02T00:00:00Z\nA-2;b;pcs;;1;2024-01-02T00:00:00Z\n")
                .Returns("/api/tenants/acme/prices?articles=A-1&page=0&pageSize=500", "A-1;VK;12.50;EUR\nA-1;VK;11.00;EUR;10\n")
                .Returns("/api/tenants/acme/stock?articles=A-1&page=0&pageSize=500", "A-1;MAIN;7;2\n");
            using (var client = FakeErp.Client(erp))
            {
                var result = client.SyncAsync(Since, CancellationToken.None).GetAwaiter().GetResult();
                Assert.AreEqual(2, result.Articles);
                Assert.AreEqual(2, result.Prices);
                Assert.AreEqual(1, result.StockRecords);
            }
        }
    }
}
