"""Thresholds that turn a download audit into pass/fail, and the `--since` period.

`--fail-on-error-rate 5%` trips when at least one request failed and the error rate is 5%
or more; `0.05` means the same. `--fail-on-unauthorized 10` trips at 10 or more 403s (1:
on any). Both are checked; every threshold that tripped is returned.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

from b2release.accesslogs.model import parse_time
from b2release.accesslogs.report import DownloadReport
from b2release.errors import UsageError

_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class Trip:
    threshold: str  # error_rate | unauthorized
    limit: str
    actual: str
    message: str


def parse_error_rate(text: str) -> float:
    """`5%`, `0.5%` or a fraction `0.05` as a fraction in [0, 1]."""
    value = str(text).strip()
    try:
        rate = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        raise UsageError(f"invalid error rate {text!r}: write a percentage like 5% or a fraction like 0.05") from None
    if not value.endswith("%") and rate > 1:
        raise UsageError(f"invalid error rate {text!r}: a fraction is at most 1; for a percentage add % ({value}%)")
    if not 0 <= rate <= 1:
        raise UsageError(f"invalid error rate {text!r}: it must be between 0% and 100%")
    return rate


def parse_count(text: str | int) -> int:
    value = str(text).strip()
    if not value.isdigit() or int(value) < 1:
        raise UsageError(f"invalid count {text!r}: use a whole number of at least 1 (1 fails on any)")
    return int(value)


def parse_since(text: str, now: _dt.datetime | None = None) -> _dt.datetime:
    """`30m`, `12h`, `1d`, `2w` before `now`, or an ISO 8601 time, as aware UTC."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    match = _DURATION.match(str(text).strip().lower())
    if match:
        return now - _dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        return parse_time(str(text))
    except ValueError:
        raise UsageError(f"invalid --since {text!r}: use a duration like 1d, 12h, 30m or an ISO 8601 UTC time") from None


def check_thresholds(report: DownloadReport, fail_on_error_rate: str | float | None = None,
                     fail_on_unauthorized: str | int | None = None) -> list[Trip]:
    trips: list[Trip] = []
    if fail_on_error_rate is not None:
        limit = parse_error_rate(str(fail_on_error_rate))
        if report.errors and report.error_rate >= limit:
            trips.append(Trip("error_rate", f"{limit:.2%}", f"{report.error_rate:.2%}",
                              f"error rate {report.error_rate:.2%} ({report.errors} of {report.requests} requests) "
                              f"reached the limit of {limit:.2%}"))
    if fail_on_unauthorized is not None:
        limit_count = parse_count(fail_on_unauthorized)
        if report.unauthorized >= limit_count:
            trips.append(Trip("unauthorized", str(limit_count), str(report.unauthorized),
                              f"{report.unauthorized} unauthorized (403) requests reached the limit of {limit_count}"))
    return trips
