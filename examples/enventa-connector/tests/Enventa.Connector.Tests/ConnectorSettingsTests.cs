using System;
using System.Collections.Specialized;
using System.Configuration;
using NUnit.Framework;

namespace Enventa.Connector.Tests
{
    [TestFixture]
    public class ConnectorSettingsTests
    {
        [Test]
        public void FromAppSettingsReadsTheEnventaKeys()
        {
            var settings = ConnectorSettings.FromAppSettings(new NameValueCollection
            {
                { "Enventa.BaseUrl", "https://erp.example.invalid/api/" },
                { "Enventa.Tenant", "acme" },
                { "Enventa.ApiKey", "k-123" },
                { "Enventa.PageSize", "250" },
            });
            Assert.AreEqual(new Uri("https://erp.example.invalid/api/"), settings.BaseUrl);
            Assert.AreEqual("acme", settings.Tenant);
            Assert.AreEqual("k-123", settings.ApiKey);
            Assert.AreEqual(250, settings.PageSize);
        }

        [TestCase("0")]
        [TestCase("-5")]
        [TestCase("many")]
        public void AnUnusablePageSizeKeepsTheDefault(string pageSize)
        {
            var settings = ConnectorSettings.FromAppSettings(new NameValueCollection
            {
                { "Enventa.BaseUrl", "https://erp.example.invalid/api/" },
                { "Enventa.PageSize", pageSize },
            });
            Assert.AreEqual(ConnectorSettings.DefaultPageSize, settings.PageSize);
            Assert.AreEqual("default", settings.Tenant);
        }

        [Test]
        public void AMissingBaseUrlIsAConfigurationError()
        {
            Assert.Throws<ConfigurationErrorsException>(() => ConnectorSettings.FromAppSettings(new NameValueCollection()));
        }

        [Test]
        public void ToStringNeverShowsTheApiKey()
        {
            var settings = new ConnectorSettings(new Uri("https://erp.example.invalid/"), "acme", "very-secret-key");
            StringAssert.DoesNotContain("very-secret-key", settings.ToString());
            StringAssert.Contains("acme", settings.ToString());
        }

        [Test]
        public void ATenantIsRequired()
        {
            Assert.Throws<ArgumentException>(() => new ConnectorSettings(new Uri("https://erp.example.invalid/"), " ", "k"));
        }
    }
}
