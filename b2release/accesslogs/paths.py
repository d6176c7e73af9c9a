"""Account, container and blob path of a request, from the object key or the request URL."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit


def split_object_key(object_key: str | None) -> tuple[str | None, str | None, str | None]:
    """`/account/container/blob/path` (both log formats) as (account, container, blob).

    Some operations log a URL instead; then the account is the host's first label.
    """
    if not object_key:
        return None, None, None
    key = object_key.strip()
    if "://" in key:
        parts = urlsplit(key)
        host = parts.hostname or ""
        segments = unquote(parts.path).lstrip("/").split("/", 1)
        account = host.split(".", 1)[0] if host else None
        container = segments[0] or None
        blob = segments[1] if len(segments) > 1 and segments[1] else None
        return account, container, blob
    segments = key.lstrip("/").split("/", 2)
    account = segments[0] or None
    container = segments[1] if len(segments) > 1 and segments[1] else None
    blob = segments[2] if len(segments) > 2 and segments[2] else None
    return account, container, blob


def split_url_path(path: str, account_from_host: str | None) -> tuple[str | None, str | None, str | None]:
    """A URL path as (account, container, blob); path-style URLs (emulators) start with the account."""
    segments = path.lstrip("/").split("/")
    account = account_from_host
    if account is None and segments and segments[0]:
        account, segments = segments[0], segments[1:]
    container = segments[0] if segments and segments[0] else None
    blob = "/".join(segments[1:]) or None
    return account, container, blob
