"""Stores: where releases live. `open_store(url, ctx)` picks the implementation.

URLs (docs/distribution.md):
- `file://<folder>`: a local folder (relative paths: to the config file that set it,
  else to the current directory); the default, `file://releases`.
- `azure`: the account from AZURE_STORAGE_CONNECTION_STRING, else [store] account_url.
- `azure://<account>`: https://<account>.blob.core.windows.net.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from b2release.errors import ConfigError
from b2release.stores.base import AlreadyExists, BlobInfo, PreconditionFailed, Store

if TYPE_CHECKING:
    from b2release.context import Context

__all__ = ["open_store", "Store", "BlobInfo", "AlreadyExists", "PreconditionFailed", "store_url"]


def store_url(ctx: Context, override: str | None = None) -> str:
    return (override or ctx.config.get("store.url") or "").strip()


def _local_root(ctx: Context, url: str, from_override: bool) -> Path:
    raw = url[len("file://"):]
    if not raw:
        raise ConfigError(f"store url {url!r} names no folder (e.g. file://releases or file:///srv/releases)")
    path = Path(raw).expanduser()
    if not path.is_absolute():
        base = Path.cwd() if from_override else ctx.config.bases.get("store.url", Path.cwd())
        path = base / path
    return path


def open_store(url: str | None, ctx: Context) -> Store:
    """The store for `url` (None: [store] url). Credentials are read here, from the environment."""
    from_override = url is not None
    url = store_url(ctx, url)
    if url.startswith("file://"):
        from b2release.stores.local import LocalStore

        return LocalStore(_local_root(ctx, url, from_override))
    if url == "azure" or url.startswith("azure://"):
        from b2release.stores.azure import AzureStore, resolve_auth

        auth = resolve_auth(url, ctx.config.get("store.account_url"))
        return AzureStore(
            auth,
            correlation_id=ctx.correlation_id,
            max_concurrency=ctx.config.get("store.max_concurrency"),
            retries=ctx.config.get("store.retries"),
            retry_backoff=ctx.config.get("store.retry_backoff"),
            allow_http=ctx.config.get("store.allow_http_emulator"),
        )
    raise ConfigError(f"store url {url!r} is not supported: use file://<folder>, azure, or azure://<account>")
