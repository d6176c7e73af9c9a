"""Which pending store paths become purge URLs, and the provider factory."""

from __future__ import annotations

import pytest

from b2release import cdn
from b2release.config import Config
from b2release.errors import ConfigError


def test_channel_pointers_become_quoted_public_urls_in_order_without_duplicates():
    pending = [
        {"container": "tenant-acme", "path": "app/channels/stable.json"},
        {"container": "tenant-acme", "path": "app/channels/stable.json.sig"},
        {"container": "tenant-acme", "path": "app/channels/stable.json"},
        {"container": "tenant-b2", "path": "my.app_x/channels/beta-1.json"},
    ]
    targets = cdn.purge_targets("https://cdn.example.com/base/", pending)
    assert targets.urls == [
        "https://cdn.example.com/base/tenant-acme/app/channels/stable.json",
        "https://cdn.example.com/base/tenant-acme/app/channels/stable.json.sig",
        "https://cdn.example.com/base/tenant-b2/my.app_x/channels/beta-1.json",
    ]
    assert targets.ignored == []


def test_public_url_quotes_each_segment():
    assert cdn.public_url("https://x.test", "c 1", "a%b/channels/s?.json") == "https://x.test/c%201/a%25b/channels/s%3F.json"


@pytest.mark.parametrize("entry", [
    {"container": "tenant-acme", "path": "app/1.2.0/app-1.2.0.zip"},  # versioned: immutable
    {"container": "tenant-acme", "path": "app/1.2.0/manifest.json"},
    {"container": "tenant-acme", "path": "app/channels/../1.2.0/x.json"},
    {"container": "tenant-acme", "path": "app/channels/Stable.json"},  # invalid channel name
    {"container": "tenant-acme", "path": "app/channels/stable.txt"},
    {"container": "Tenant_Acme", "path": "app/channels/stable.json"},  # invalid container
    {"container": "tenant-acme"},
    "tenant-acme/app/channels/stable.json",
])
def test_anything_but_a_channel_pointer_is_ignored_with_a_reason(entry):
    targets = cdn.purge_targets("https://cdn.example.com", [entry])
    assert targets.urls == []
    assert len(targets.ignored) == 1 and targets.ignored[0]["reason"]


@pytest.mark.parametrize("base", ["", "ftp://x", "https://cdn.example.com/?a=1", "cdn.example.com"])
def test_base_url_must_be_an_http_url(base):
    with pytest.raises(ConfigError, match="cdn.base_url"):
        cdn.purge_targets(base, [])


def test_factory_returns_none_provider_by_default():
    provider = cdn.make_provider(Config())
    assert provider.name == "none" and provider.enabled is False
    assert provider.purge(["https://x/y"]).urls == []


def test_factory_checks_cloudflare_settings(monkeypatch):
    config = Config()
    config.set("cdn.provider", "cloudflare")
    with pytest.raises(ConfigError, match="cdn.zone_id is not set"):
        cdn.make_provider(config)
    config.set("cdn.zone_id", "bad/zone")
    with pytest.raises(ConfigError, match="cdn.zone_id must be"):
        cdn.make_provider(config)
    config.set("cdn.zone_id", "0123456789abcdef0123456789abcdef")
    with pytest.raises(ConfigError, match="CLOUDFLARE_API_TOKEN is not set"):
        cdn.make_provider(config)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "tok-abcdef-123")
    config.set("cdn.batch_size", 0)
    with pytest.raises(ConfigError, match="batch_size"):
        cdn.make_provider(config)
    config.set("cdn.batch_size", 10)
    provider = cdn.make_provider(config)
    assert (provider.name, provider.batch_size, provider.token) == ("cloudflare", 10, "tok-abcdef-123")
    assert provider.endpoint == "https://api.cloudflare.com/client/v4/zones/0123456789abcdef0123456789abcdef/purge_cache"
