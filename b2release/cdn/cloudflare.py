"""Cloudflare API v4 cache purge: `POST {api_base}/zones/{zone_id}/purge_cache` {"files": [...]}.

The token (CLOUDFLARE_API_TOKEN, read through redact.secret_from_env so it is masked
everywhere) goes only into the Authorization header; it is never logged and never part of
an error message. URLs go out in batches of `batch_size` because the per-request limit
depends on the plan. Retries of 429 (honouring Retry-After), 5xx, timeouts and dropped
connections are b2release.http's, bounded by `[cdn] retries`. A `success: false` answer
is final: it becomes a RemoteError (exit 3) carrying Cloudflare's error codes and messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from b2release.cdn.base import BatchFn, PurgeReport
from b2release.cdn.targets import is_loopback
from b2release.config import Config
from b2release.errors import ConfigError, RemoteError
from b2release.http import HttpClient
from b2release.redact import CLOUDFLARE_TOKEN_ENV, redact, redact_obj, secret_from_env

NAME = "cloudflare"
_ZONE_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")


def check_api_base(api_base: str) -> str:
    """https only: the token travels in a header. Plain http is accepted for loopback fakes."""
    parts = urlsplit(api_base or "")
    if not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"cdn.api_base must be an https URL, got {api_base!r}")
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(api_base)):
        raise ConfigError(
            f"cdn.api_base must use https (the API token is sent to it), got {api_base!r}; "
            "plain http is allowed only for a local test server on 127.0.0.1"
        )
    return api_base.rstrip("/")


def _format_errors(doc: Any) -> str:
    """Cloudflare's `errors` array as 'code 1234: message; ...' (nested error_chain included)."""
    items: list[str] = []

    def walk(errors: Any) -> None:
        if not isinstance(errors, list):
            return
        for err in errors:
            if isinstance(err, dict):
                code = err.get("code")
                message = " ".join(str(err.get("message", "")).split())
                items.append(f"code {code}: {message}" if code is not None else message)
                walk(err.get("error_chain"))
            else:
                items.append(" ".join(str(err).split()))

    walk(doc.get("errors") if isinstance(doc, dict) else None)
    return "; ".join(i for i in items if i) or "no error details given"


@dataclass
class CloudflareProvider:
    zone_id: str
    api_base: str
    token: str
    batch_size: int = 30
    timeout: float = 30.0
    retries: int = 5
    name: str = NAME
    enabled: bool = True

    @property
    def endpoint(self) -> str:
        return f"{self.api_base}/zones/{quote(self.zone_id, safe='')}/purge_cache"

    def purge(self, urls: list[str], on_batch: BatchFn | None = None) -> PurgeReport:
        report = PurgeReport()
        batches = [urls[i:i + self.batch_size] for i in range(0, len(urls), self.batch_size)]
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        with HttpClient(timeout=self.timeout, retries=self.retries, headers=headers, trust_env=False,
                        logger="purge") as client:
            try:
                for number, batch in enumerate(batches, 1):
                    where = f"batch {number} of {len(batches)}"
                    client.call("POST", self.endpoint, display=f"Cloudflare purge {where}", json={"files": batch},
                                handle=lambda response, where=where: self._answer(response, where))
                    report.batches += 1
                    report.urls.extend(batch)
                    if on_batch is not None:
                        on_batch(number, len(batches), len(batch))
            finally:
                report.requests, report.retries = client.counters.requests, client.counters.retries
        return report

    def _answer(self, resp: Any, where: str) -> dict[str, Any]:
        status = resp.status_code
        try:
            doc = resp.json()
        except ValueError:
            doc = None
        if 200 <= status < 300 and isinstance(doc, dict) and doc.get("success") is True:
            return doc
        if not isinstance(doc, dict):
            raise RemoteError(f"Cloudflare purge failed ({where}): HTTP {status} with a body that is not JSON")
        hint = None
        if status in (401, 403):
            hint = (f"check that {CLOUDFLARE_TOKEN_ENV} is valid and has the Zone / Cache Purge permission for "
                    f"zone {self.zone_id}")
        # Cloudflare's text is foreign: redact it here, because the runner records the message
        # in state.json as the failure reason.
        raise RemoteError(
            redact(f"Cloudflare purge failed ({where}, HTTP {status}, success: false): {_format_errors(doc)}"),
            hint=hint,
            details={"endpoint": self.endpoint, "status": status, "errors": redact_obj(doc.get("errors") or [])},
        )


def from_config(config: Config) -> CloudflareProvider:
    """Check every setting before the first request; a missing token is a usage error (exit 2)."""
    zone_id = config.get("cdn.zone_id") or ""
    if not zone_id:
        raise ConfigError("cdn.zone_id is not set (needed for cdn.provider = cloudflare)")
    if not _ZONE_ID.fullmatch(zone_id):
        raise ConfigError(f"cdn.zone_id must be the zone's identifier (letters and digits), got {zone_id!r}")
    api_base = check_api_base(config.get("cdn.api_base"))
    batch_size = config.get("cdn.batch_size")
    if batch_size < 1:
        raise ConfigError(f"cdn.batch_size must be at least 1, got {batch_size}")
    timeout = config.get("cdn.timeout")
    if timeout < 1:
        raise ConfigError(f"cdn.timeout must be at least 1 (seconds), got {timeout}")
    retries = config.get("cdn.retries")
    if retries < 0 or retries > 20:
        raise ConfigError(f"cdn.retries must be between 0 and 20, got {retries}")
    token = secret_from_env(CLOUDFLARE_TOKEN_ENV)
    if not token:
        raise ConfigError(
            f"{CLOUDFLARE_TOKEN_ENV} is not set: the Cloudflare API token for cdn.provider = cloudflare",
            hint=f"create a token with the Zone / Cache Purge permission and export it as {CLOUDFLARE_TOKEN_ENV} "
            f"(or put it in a file named by {CLOUDFLARE_TOKEN_ENV}_FILE)",
        )
    return CloudflareProvider(zone_id=zone_id, api_base=api_base, token=token, batch_size=batch_size,
                              timeout=float(timeout), retries=retries)
