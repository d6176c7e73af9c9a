"""Stores: where releases live. `open_store(config, url, correlation_id)` picks one.

URLs (docs/distribution.md):
- `file://<folder>`: a local folder (relative paths: to the config file that set it,
  else to the current directory); the default, `file://releases`.
- `azure`: the account from AZURE_STORAGE_CONNECTION_STRING, else [store] account_url.
- `azure://<account>`: https://<account>.blob.core.windows.net.
"""

from __future__ import annotations

from pathlib import Path

from b2release.config import Config
from b2release.errors import ConfigError
from b2release.stores.azure import AzureStore
from b2release.stores.azure_auth import resolve_auth
from b2release.stores.base import AlreadyExists, BlobInfo, PreconditionFailed, Store
from b2release.stores.local import LocalStore

__all__ = ["open_store", "Store", "BlobInfo", "AlreadyExists", "PreconditionFailed", "store_url", "url_problem"]


def store_url(config: Config, override: str | None = None) -> str:
    return (override or config.get("store.url") or "").strip()


def url_problem(url: str) -> str | None:
    """What is wrong with a store URL's form (credentials are open_store's, and doctor's), or None."""
    if url.startswith("file://"):
        return None if url[len("file://"):] else f"{url!r} names no folder (e.g. file://releases)"
    if url.startswith("azure://"):
        account = url[len("azure://"):].strip("/")
        if not account or not account.isalnum() or account != account.lower():
            return f"expected azure://<account> with a lowercase account name, got {url!r}"
        return None
    if url != "azure":
        return f"{url!r} is not supported: use file://<folder>, azure, or azure://<account>"
    return None


def _local_root(config: Config, url: str, from_override: bool) -> Path:
    raw = url[len("file://"):]
    if not raw:
        raise ConfigError(f"store url {url!r} names no folder (e.g. file://releases or file:///srv/releases)")
    path = Path(raw).expanduser()
    if not path.is_absolute():
        base = Path.cwd() if from_override else config.bases.get("store.url", Path.cwd())
        path = base / path
    return path


def open_store(config: Config, url: str | None = None, correlation_id: str = "") -> Store:
    """The store for `url` (None: [store] url). Credentials are read here, from the environment."""
    from_override = url is not None
    url = store_url(config, url)
    if url.startswith("file://"):
        return LocalStore(_local_root(config, url, from_override))
    if url == "azure" or url.startswith("azure://"):
        auth = resolve_auth(url, config.get("store.account_url"))
        return AzureStore(
            auth,
            correlation_id=correlation_id,
            max_concurrency=config.get("store.max_concurrency"),
            retries=config.get("store.retries"),
            retry_backoff=config.get("store.retry_backoff"),
            allow_http=config.get("store.allow_http_emulator"),
        )
    raise ConfigError(f"store url {url!r} is not supported: use file://<folder>, azure, or azure://<account>")
