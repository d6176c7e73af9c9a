"""The one HTTP client of b2release: OSV, Cloudflare and `verify --remote` downloads.

One policy for every outside HTTP service:
- a session with a timeout per request and no redirects (a SAS or a token must not
  travel to another host);
- transient failures (timeouts, dropped connections, 429, 5xx) retried a bounded number
  of times, waiting what `Retry-After` asks (delta-seconds or an HTTP date) or else an
  exponential backoff, both capped;
- errors that never carry a secret: messages name the request by a `display` string the
  caller chose (a URL without its query, "Cloudflare purge batch 2 of 3"), never the URL
  with its query, and exception texts of `requests` (which may hold the URL) are reduced
  to their class name.
`requests` is imported when a client is made, so that `b2release --help` stays fast.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, TypeVar

from b2release import __version__, log
from b2release.errors import RemoteError

BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0
# The longest wait a server may ask for: a release job should fail, not hang for hours.
RETRY_AFTER_CAP_S = 300.0
USER_AGENT = f"b2release/{__version__}"

T = TypeVar("T")


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
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:  # the asctime form carries no zone: HTTP dates are UTC (RFC 9110)
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, min(seconds, RETRY_AFTER_CAP_S))


@dataclass
class Counters:
    requests: int = 0
    retries: int = 0


class HttpClient:
    """A session with the retry policy above. `call` runs one request to completion."""

    def __init__(self, *, timeout: float = 30.0, retries: int = 4, headers: dict[str, str] | None = None,
                 trust_env: bool = True, logger: str = "http"):
        import requests

        self.timeout = timeout
        self.retries = retries
        self.session = requests.Session()
        # trust_env=False: no credentials from ~/.netrc (an Authorization header is ours alone).
        self.session.trust_env = trust_env
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers.update(headers or {})
        self.counters = Counters()
        self.logger = log.get(logger)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, url: str, *, display: str, handle: Callable[[Any], T], **kwargs: Any) -> T:
        """Send a request, retrying transient failures; `handle(response)` decides the rest.

        `handle` runs inside the retry loop for every non-transient answer, so a body that
        breaks off while it reads it (a dropped stream) is retried like any other drop.
        After the last attempt: RemoteError "<display> failed after N attempts: <problem>".
        """
        import requests

        attempt = 0
        while True:
            wait: float | None = None
            self.counters.requests += 1
            try:
                with self.session.request(method, url, timeout=self.timeout, allow_redirects=False,
                                          **kwargs) as response:
                    status = response.status_code
                    if status == 429 or status >= 500:
                        problem = f"HTTP {status}" + (" (rate limited)" if status == 429 else "")
                        wait = parse_retry_after(response.headers.get("Retry-After"))
                    else:
                        return handle(response)
            except requests.exceptions.SSLError:
                raise RemoteError(f"{display}: TLS handshake or certificate verification failed") from None
            except requests.Timeout as exc:
                problem = f"no answer within {self.timeout:g}s ({type(exc).__name__})"
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                problem = f"connection failed ({type(exc).__name__})"
            except requests.RequestException as exc:
                raise RemoteError(f"{display}: request failed ({type(exc).__name__})") from None
            if attempt >= self.retries:
                raise RemoteError(f"{display} failed after {attempt + 1} attempts: {problem}",
                                  details={"attempts": attempt + 1})
            delay = backoff_delay(attempt) if wait is None else wait
            self.logger.warning("%s: %s; retrying in %gs (attempt %d of %d)", display, problem, delay, attempt + 2,
                                self.retries + 1)
            sleep(delay)
            attempt += 1
            self.counters.retries += 1
