"""CDN adapters: purge the cached copies of mutable URLs (channel pointers) after they change.

Two providers behind one small interface (cdn.base): `cloudflare` (API v4 through the
b2release HTTP client) and `none` (no CDN in front of the store: nothing to purge).
`make_provider` picks one from `[cdn] provider`; cdn.targets turns queued store paths
into the public URLs to purge.
"""

from __future__ import annotations

from b2release.cdn.base import Provider, PurgeReport
from b2release.cdn.cloudflare import from_config
from b2release.cdn.none import NoneProvider
from b2release.cdn.targets import PurgeTargets, check_base_url, is_loopback, public_url, purge_targets
from b2release.config import Config
from b2release.errors import ConfigError

PROVIDERS = ("cloudflare", "none")

__all__ = ["PROVIDERS", "PurgeReport", "PurgeTargets", "Provider", "check_base_url", "is_loopback", "make_provider",
           "provider_name", "public_url", "purge_targets"]


def provider_name(config: Config) -> str:
    name = config.get("cdn.provider")
    if name not in PROVIDERS:  # config validation catches this; keep a clear message anyway
        raise ConfigError(f"cdn.provider must be one of {', '.join(PROVIDERS)}, got {name!r}")
    return name


def make_provider(config: Config) -> Provider:
    """The provider named by `[cdn] provider`, with its settings and credentials checked."""
    if provider_name(config) == "none":
        return NoneProvider()
    return from_config(config)
