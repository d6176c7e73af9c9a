using NUnit.Framework;

namespace Enventa.Connector.Tests
{
    [TestFixture]
    public class ConnectorExceptionTests
    {
        [TestCase(429, true)]
        [TestCase(500, true)]
        [TestCase(503, true)]
        [TestCase(400, false)]
        [TestCase(404, false)]
        public void OnlyThrottlingAndServerErrorsAreTransient(int status, bool transient)
        {
            Assert.AreEqual(transient, new ConnectorException("GET x", status).IsTransient);
        }

        [Test]
        public void AFailureWithoutStatusIsTransient()
        {
            var ex = new ConnectorException("connection reset");
            Assert.IsNull(ex.StatusCode);
            Assert.IsTrue(ex.IsTransient);
        }
    }
}
