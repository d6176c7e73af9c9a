"""Cloudflare API v4 cache purge: `POST {api_base}/zones/{zone_id}/purge_cache` {"files": [...]}.

The token (CLOUDFLARE_API_TOKEN, read through redact.secret_from_env so it is masked
everywhere) goes only into the Authorization header; it is never logged and never part of
an error message. URLs go out in batches of `batch_size` because the per-request limit
depends on the plan. A 429 waits for Retry-After; 5xx answers, timeouts and dropped
connections back off exponentially, a bounded number of times. A `success: false` answer
is final: it becomes a RemoteError (exit 3) carrying Cloudflare's error codes and messages.
`requests` is imported inside functions so that `b2release --help` stays fast.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import quote, urlsplit

from b2release import log
from b2release.cdn import TOKEN_ENV, PurgeReport, is_loopback
from b2release.errors import ConfigError, RemoteError

if TYPE_CHECKING:
    from b2release.config import Config

NAME = "cloudflare"
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0
# A Retry-After larger than this is treated as this: a release job should fail, not hang for hours.
RETRY_AFTER_CAP_S = 300.0
_ZONE_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")


def _default_sleep(seconds: float) -> None:
    time.sleep(seconds)


# Tests replace this with a recorder so retries never really wait.
sleep: Callable[[float], None] = _default_sleep


def backoff_delay(attempt: int, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S) -> float:
    """1, 2, 4, 8 ... seconds, never more than `cap` (attempt counts from 0)."""
    return min(cap, base * (2**attempt))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), capped; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, min(seconds, RETRY_AFTER_CAP_S))


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
    sleeper: Callable[[float], None] | None = None  # None: the module's `sleep` (tests patch it)
    name: str = NAME
    enabled: bool = True

    @property
    def endpoint(self) -> str:
        return f"{self.api_base}/zones/{quote(self.zone_id, safe='')}/purge_cache"

    def purge(self, urls: list[str], on_batch: Callable[[int, int, int], None] | None = None) -> PurgeReport:
        import requests

        from b2release import __version__

        report = PurgeReport()
        batches = [urls[i:i + self.batch_size] for i in range(0, len(urls), self.batch_size)]
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"b2release/{__version__}",
        }
        with requests.Session() as session:
            # Never pick up credentials from ~/.netrc: the Authorization header is ours alone.
            session.trust_env = False
            for number, batch in enumerate(batches, 1):
                self._post(session, headers, batch, number, len(batches), report)
                report.batches += 1
                report.urls.extend(batch)
                if on_batch is not None:
                    on_batch(number, len(batches), len(batch))
        return report

    def _post(self, session: Any, headers: dict[str, str], batch: list[str], number: int, total: int,
              report: PurgeReport) -> dict[str, Any]:
        import requests

        logger = log.get("purge")
        where = f"batch {number} of {total}"
        attempt = 0
        while True:
            wait: float | None = None
            report.requests += 1
            try:
                resp = session.post(self.endpoint, json={"files": batch}, headers=headers, timeout=self.timeout,
                                    allow_redirects=False)
            except requests.Timeout:
                problem = f"no answer within {self.timeout:g}s"
            except requests.ConnectionError as exc:
                # The exception text names host and port only; the token is in a header, not the URL.
                problem = f"connection failed ({type(exc).__name__})"
            else:
                status = resp.status_code
                if status == 429:
                    problem = "HTTP 429 (rate limited)"
                    wait = parse_retry_after(resp.headers.get("Retry-After"))
                elif status >= 500:
                    problem = f"HTTP {status}"
                else:
                    return self._answer(resp, where)
            if attempt >= self.retries:
                raise RemoteError(
                    f"Cloudflare purge failed ({where}) after {attempt + 1} attempts: {problem}",
                    details={"endpoint": self.endpoint, "attempts": attempt + 1},
                )
            delay = backoff_delay(attempt) if wait is None else wait
            logger.warning("Cloudflare purge %s: %s; retrying in %gs (attempt %d of %d)",
                           where, problem, delay, attempt + 2, self.retries + 1)
            (self.sleeper or sleep)(delay)
            attempt += 1
            report.retries += 1

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
            hint = f"check that {TOKEN_ENV} is valid and has the Zone / Cache Purge permission for zone {self.zone_id}"
        # Cloudflare's text is foreign: redact it here, because the runner records the message
        # in state.json as the failure reason.
        from b2release.redact import redact, redact_obj

        raise RemoteError(
            redact(f"Cloudflare purge failed ({where}, HTTP {status}, success: false): {_format_errors(doc)}"),
            hint=hint,
            details={"endpoint": self.endpoint, "status": status, "errors": redact_obj(doc.get("errors") or [])},
        )


def from_config(config: Config, *, sleep: Callable[[float], None] | None = None) -> CloudflareProvider:
    """Check every setting before the first request; a missing token is a usage error (exit 2)."""
    from b2release.redact import secret_from_env

    zone_id = config.get("cdn.zone_id") or ""
    if not zone_id:
        raise ConfigError("cdn.zone_id is not set (needed for cdn.provider = cloudflare)")
    if not _ZONE_ID.match(zone_id):
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
    token = secret_from_env(TOKEN_ENV)
    if not token:
        raise ConfigError(
            f"{TOKEN_ENV} is not set: the Cloudflare API token for cdn.provider = cloudflare",
            hint=f"create a token with the Zone / Cache Purge permission and export it as {TOKEN_ENV} "
            f"(or put it in a file named by {TOKEN_ENV}_FILE)",
        )
    return CloudflareProvider(zone_id=zone_id, api_base=api_base, token=token, batch_size=batch_size,
                              timeout=float(timeout), retries=retries, sleeper=sleep)
