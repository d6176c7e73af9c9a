"""SAS query strings: keep the grant facts (`si`, `se`, `sp`), drop everything else.

A SAS URL is a credential until it expires. Parsers call `split_url` on every request URL
they read: it returns the path without any query and what the SAS says about the grant,
and registers the signature with b2release.redact so that even text we did not build
(an exception message, a debug line) is masked if it ever quotes it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

from b2release.accesslogs.model import SasInfo, parse_time
from b2release.redact import register_secret


def sas_info(query: str) -> SasInfo | None:
    """The grant facts of a SAS query string, or None when the query is not a SAS."""
    if not query:
        return None
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(key.lower(), value)
    signature = params.get("sig")
    if signature:
        # parse_qsl decoded it; the raw, percent-encoded form may appear in other text too.
        register_secret(signature)
        for part in query.split("&"):
            if part.lower().startswith("sig="):
                register_secret(part[4:])
    if signature is None and "si" not in params and "se" not in params:
        return None
    expiry = None
    if params.get("se"):
        try:
            expiry = parse_time(params["se"] if "T" in params["se"] else params["se"] + "T00:00:00Z")
        except ValueError:
            expiry = None
    return SasInfo(policy_id=params.get("si") or None, expiry=expiry, signed=bool(signature),
                   permissions=params.get("sp") or None)


def split_url(url: str) -> tuple[str | None, str | None, SasInfo | None]:
    """(account, path without query, SAS facts) of a blob URL such as `https://acct.blob.core.windows.net:443/c/b?...`."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    account = host.split(".", 1)[0] if host.endswith(".core.windows.net") else None
    return account, unquote(parts.path), sas_info(parts.query)
