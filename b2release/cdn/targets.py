"""Which public URLs a purge asks the CDN to drop: the channel pointers that moved.

The store paths that pointer writes queue in `state.pending_purge` become public URLs
under `[cdn] base_url`; anything that is not a channel pointer is refused with a reason:
versioned files are immutable and cached for a year on purpose, so they are never purged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import quote, urlsplit

from b2release.errors import ConfigError, UsageError
from b2release.formats.names import container_name_problem, validate_product_name
from b2release.formats.pointer import validate_channel

_POINTER_FILE = re.compile(r"^(?P<channel>[^/]+)\.json(?:\.sig)?$")
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


@dataclass
class PurgeTargets:
    urls: list[str]
    ignored: list[dict[str, str]]  # entries refused, each with the reason


def _problem(entry: Any) -> str | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("container"), str) or not isinstance(
        entry.get("path"), str
    ):
        return "not a {container, path} record"
    if container_name_problem(entry["container"]):
        return "invalid container name"
    parts = entry["path"].split("/")
    if len(parts) != 3 or parts[1] != "channels":
        return "not a channel pointer (<product>/channels/<channel>.json); versioned files are immutable"
    match = _POINTER_FILE.fullmatch(parts[2])
    if not match:
        return "not a channel pointer (<product>/channels/<channel>.json); versioned files are immutable"
    try:
        validate_product_name(parts[0])
        validate_channel(match.group("channel"))
    except UsageError as exc:
        return exc.message
    return None


def check_base_url(base_url: str) -> str:
    """`[cdn] base_url`: the public http(s) origin clients download from, without a trailing slash."""
    if not base_url:
        raise ConfigError("cdn.base_url is not set: the public URL in front of the store, e.g. https://downloads.example.com")
    parts = urlsplit(base_url)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"cdn.base_url must be an http(s) URL without query or fragment, got {base_url!r}")
    return base_url.rstrip("/")


def public_url(base_url: str, container: str, path: str) -> str:
    # Quote every segment on its own: '/' separates segments, anything else is data.
    segments = [quote(container, safe="")] + [quote(seg, safe="") for seg in path.split("/")]
    return base_url.rstrip("/") + "/" + "/".join(segments)


def purge_targets(base_url: str, entries: Iterable[Any]) -> PurgeTargets:
    """Public URLs of the pending channel pointers, deduplicated, in the order recorded."""
    base = check_base_url(base_url)
    urls: list[str] = []
    ignored: list[dict[str, str]] = []
    for entry in entries:
        problem = _problem(entry)
        if problem:
            shown = entry if isinstance(entry, dict) else {"entry": repr(entry)}
            ignored.append({**{k: str(v) for k, v in shown.items()}, "reason": problem})
            continue
        url = public_url(base, entry["container"], entry["path"])
        if url not in urls:
            urls.append(url)
    return PurgeTargets(urls, ignored)


def is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS
