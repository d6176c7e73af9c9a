"""The parsed form of one storage request, common to both log formats."""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

# Seconds are optional: a SAS `se=` may be written as YYYY-MM-DDThh:mmZ.
_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True)
class SasInfo:
    """What a SAS query tells about the grant, without the signature."""

    policy_id: str | None  # `si`: the stored access policy (our grant id)
    expiry: _dt.datetime | None  # `se`, when the SAS carries its own expiry
    signed: bool  # a `sig` was present (its value is never kept)
    permissions: str | None = None  # `sp`


@dataclass(frozen=True)
class Request:
    time: _dt.datetime  # UTC, timezone-aware
    operation: str  # GetBlob, GetBlobProperties, ListBlobs, ...
    status_code: int | None  # None when the log says "Unknown" (interrupted request)
    status_text: str  # Success, AuthenticationFailed, ServerBusy, ...
    response_bytes: int
    duration_ms: float | None
    caller_ip: str | None
    request_id: str | None  # Azure's correlationId / request-id-header
    client_request_id: str | None  # x-ms-client-request-id
    account: str | None
    container: str | None
    blob: str | None  # path inside the container, URL-decoded, never with a query
    auth_type: str | None  # sas, accountkey, oauth, anonymous, ... (lowercase)
    sas: SasInfo | None
    is_read: bool
    source: str  # file:line
    log_format: str  # resource | classic


@dataclass(frozen=True)
class ParseProblem:
    """A line that could not be read; the reason never quotes the line (it may hold a SAS)."""

    source: str
    reason: str


def parse_time(text: str) -> _dt.datetime:
    """RFC 3339 / ISO 8601 with any number of fraction digits (Azure writes 7), as aware UTC."""
    match = _TIME.match(text.strip())
    if not match:
        raise ValueError(f"not an ISO 8601 time: {text[:40]!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    second = second or "0"
    tz = _dt.timezone.utc
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        tz = _dt.timezone(sign * _dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    value = _dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz)
    return value.astimezone(_dt.timezone.utc)


def iso(value: _dt.datetime) -> str:
    """UTC time as RFC 3339 with milliseconds: 2024-05-01T10:00:00.123Z."""
    return value.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
