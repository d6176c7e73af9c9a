"""The HTTP transport of the Azure store (kept apart from the store so each stays small)."""

from __future__ import annotations

import os
from typing import Any


def transport_options(account_url: str, connect_s: float, read_s: float) -> dict[str, Any]:
    """The HTTP transport, with what requests would take from the environment read once.

    requests reads every environment variable twice on each request (proxies, no_proxy, the
    CA bundle): a tenth of the client's time in a fan-out of small requests. Every request
    goes to one host, so the answer is the same each time: proxies for that host (none when
    NO_PROXY names it) and REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE, as requests would use them.
    """
    import requests
    from azure.core.pipeline.transport import RequestsTransport

    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    transport = RequestsTransport(use_env_settings=False, connection_timeout=connect_s,
                                  read_timeout=read_s, connection_verify=bundle or True)
    return {"transport": transport, "proxies": requests.utils.get_environ_proxies(account_url) or None}
