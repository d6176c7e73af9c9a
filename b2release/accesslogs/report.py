"""The download audit: downloads per tenant and version, errors, 403s, expired/revoked grants, grant use.

Scope: read requests to tenant containers (`tenant-<id>`) and the release container; reads of
anything else (the log containers themselves, other containers) are only counted as
`out_of_scope`. Definitions:
- download: a GetBlob of a package zip answered 200; a 206 (range) counts as `partial`;
  `bytes` adds the response body bytes of both.
- error: status 400 or above, or no status (interrupted). error rate = errors / requests.
- unauthorized: status 403.
- expired or revoked: a SAS request whose grant status is expired, revoked or rejected
  (attribution.py).
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Collection, Iterable

from b2release.accesslogs.attribution import EXPIRED_OR_REVOKED, RELEASE_CONTAINER, PointerVersion, attribute
from b2release.accesslogs.model import ParseProblem, Request, iso
from b2release.redact import redact, redact_obj

MAX_PROBLEM_SAMPLES = 10


@dataclass
class VersionDownloads:
    tenant: str | None  # None: the release container
    product: str
    version: str
    downloads: int = 0
    partial: int = 0
    bytes: int = 0


@dataclass
class PointerReads:
    tenant: str | None
    product: str
    channel: str
    reads: int = 0
    errors: int = 0
    versions: dict[str, int] = field(default_factory=dict)  # version served -> reads (with an audit log history)


@dataclass
class GrantActivity:
    tenant: str | None
    container: str
    grant_id: str
    first_seen: _dt.datetime
    last_seen: _dt.datetime
    requests: int = 0
    downloads: int = 0
    bytes: int = 0
    denied: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # grant status -> requests


@dataclass
class Incident:
    """A request made with an expired or revoked grant."""

    time: _dt.datetime
    tenant: str | None
    grant_id: str | None
    status: str  # expired | revoked | rejected
    status_code: int | None
    status_text: str
    path: str
    request_id: str | None
    caller_ip: str | None
    source: str


@dataclass
class DownloadReport:
    first_time: _dt.datetime | None = None
    last_time: _dt.datetime | None = None
    requests: int = 0
    errors: int = 0
    client_errors: int = 0
    server_errors: int = 0
    unauthorized: int = 0
    downloads: list[VersionDownloads] = field(default_factory=list)
    pointer_reads: list[PointerReads] = field(default_factory=list)
    unauthorized_by_tenant: dict[str, int] = field(default_factory=dict)
    expired_or_revoked: list[Incident] = field(default_factory=list)
    grants: list[GrantActivity] = field(default_factory=list)
    out_of_scope: int = 0
    skipped_before_since: int = 0
    problems: int = 0
    problem_samples: list[ParseProblem] = field(default_factory=list)

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def total_downloads(self) -> int:
        return sum(d.downloads for d in self.downloads)

    def to_dict(self) -> dict[str, Any]:
        def convert(value: Any) -> Any:
            if isinstance(value, _dt.datetime):
                return iso(value)
            if isinstance(value, dict):
                return {k: convert(v) for k, v in value.items()}
            if isinstance(value, list):
                return [convert(v) for v in value]
            return value

        doc = convert(asdict(self))
        doc["error_rate"] = round(self.error_rate, 6)
        doc["total_downloads"] = self.total_downloads
        return redact_obj(doc)


def _tenant_key(tenant: str | None) -> str:
    return tenant if tenant is not None else f"({RELEASE_CONTAINER})"


def build_report(items: Iterable[Request | ParseProblem], live_policies: Collection[str] | None = None,
                 since: _dt.datetime | None = None, release_container: str = RELEASE_CONTAINER,
                 pointer_version: PointerVersion | None = None) -> DownloadReport:
    """Aggregate requests; `pointer_version` (attribution.pointer_history) names the version a pointer read got."""
    report = DownloadReport()
    downloads: dict[tuple[str | None, str, str], VersionDownloads] = {}
    pointers: dict[tuple[str | None, str, str], PointerReads] = {}
    grants: dict[tuple[str, str], GrantActivity] = {}
    unauthorized: Counter[str] = Counter()
    for item in items:
        if isinstance(item, ParseProblem):
            report.problems += 1
            if len(report.problem_samples) < MAX_PROBLEM_SAMPLES:
                report.problem_samples.append(ParseProblem(item.source, redact(item.reason)))
            continue
        if since is not None and item.time < since:
            report.skipped_before_since += 1
            continue
        attributed = attribute(item, live_policies, release_container, pointer_version)
        if not attributed.in_scope:
            report.out_of_scope += 1
            continue
        request, target = item, attributed.target
        report.requests += 1
        if report.first_time is None or request.time < report.first_time:
            report.first_time = request.time
        if report.last_time is None or request.time > report.last_time:
            report.last_time = request.time
        code = request.status_code
        if attributed.is_error:
            report.errors += 1
            if code is not None and 400 <= code < 500:
                report.client_errors += 1
            elif code is None or code >= 500:
                report.server_errors += 1
        if code == 403:
            report.unauthorized += 1
            unauthorized[_tenant_key(target.tenant)] += 1
        if target.kind == "package" and request.operation == "GetBlob" and code in (200, 206):
            key = (target.tenant, target.product or "", target.version or "")
            entry = downloads.setdefault(key, VersionDownloads(*key))
            if code == 200:
                entry.downloads += 1
            else:
                entry.partial += 1
            entry.bytes += request.response_bytes
        if target.kind == "pointer" and request.operation == "GetBlob":
            key = (target.tenant, target.product or "", target.channel or "")
            pointer = pointers.setdefault(key, PointerReads(*key))
            pointer.reads += 1
            pointer.errors += int(attributed.is_error)
            if target.version:
                pointer.versions[target.version] = pointer.versions.get(target.version, 0) + 1
        if attributed.grant_id is not None and request.container is not None:
            gkey = (request.container, attributed.grant_id)
            grant = grants.get(gkey)
            if grant is None:
                grant = grants[gkey] = GrantActivity(target.tenant, request.container, attributed.grant_id,
                                                     request.time, request.time)
            grant.first_seen = min(grant.first_seen, request.time)
            grant.last_seen = max(grant.last_seen, request.time)
            grant.requests += 1
            grant.downloads += int(attributed.is_download)
            grant.bytes += request.response_bytes if code in (200, 206) else 0
            grant.denied += int(code == 403)
            status = attributed.grant_status or "live"
            grant.statuses[status] = grant.statuses.get(status, 0) + 1
        if attributed.grant_status in EXPIRED_OR_REVOKED:
            report.expired_or_revoked.append(Incident(
                request.time, target.tenant, attributed.grant_id, attributed.grant_status, code, request.status_text,
                f"{request.container}/{request.blob or ''}".rstrip("/"), request.request_id, request.caller_ip,
                request.source,
            ))
    report.downloads = sorted(downloads.values(), key=lambda d: (_tenant_key(d.tenant), d.product, d.version))
    report.pointer_reads = sorted(pointers.values(), key=lambda p: (_tenant_key(p.tenant), p.product, p.channel))
    report.grants = sorted(grants.values(), key=lambda g: (g.container, g.grant_id))
    report.unauthorized_by_tenant = dict(sorted(unauthorized.items()))
    report.expired_or_revoked.sort(key=lambda i: (i.time, i.source))
    return report


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  " + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return lines


def render_text(report: DownloadReport) -> str:
    """A plain-text report for CI logs (no colour, no SAS: only ids and paths)."""
    period = (f"{iso(report.first_time)} .. {iso(report.last_time)}" if report.first_time and report.last_time
              else "no requests")
    out = [
        f"Download audit: {period}",
        f"requests {report.requests}, errors {report.errors} ({report.error_rate:.2%}; 4xx {report.client_errors}, "
        f"5xx {report.server_errors}), unauthorized (403) {report.unauthorized}, "
        f"expired or revoked grants {len(report.expired_or_revoked)}",
        "",
        "Downloads per tenant and version:",
    ]
    out += _table(["tenant", "product", "version", "downloads", "partial", "bytes"],
                  [[_tenant_key(d.tenant), d.product, d.version, str(d.downloads), str(d.partial), str(d.bytes)]
                   for d in report.downloads]) if report.downloads else ["  none"]
    out += ["", "Channel pointer reads:"]
    out += _table(["tenant", "product", "channel", "reads", "errors", "versions served"],
                  [[_tenant_key(p.tenant), p.product, p.channel, str(p.reads), str(p.errors),
                    ", ".join(f"{v} ({n})" for v, n in sorted(p.versions.items())) or "-"]
                   for p in report.pointer_reads]) if report.pointer_reads else ["  none"]
    out += ["", "Grants (stored access policy ids):"]
    out += _table(["tenant", "grant", "first seen", "last seen", "requests", "downloads", "denied"],
                  [[_tenant_key(g.tenant), g.grant_id, iso(g.first_seen), iso(g.last_seen), str(g.requests),
                    str(g.downloads), str(g.denied)] for g in report.grants]) if report.grants else ["  none"]
    out += ["", "Unauthorized (403) per tenant:"]
    out += [f"  {tenant}: {count}" for tenant, count in report.unauthorized_by_tenant.items()] or ["  none"]
    out += ["", "Requests with expired or revoked grants:"]
    out += _table(["time", "tenant", "grant", "status", "http", "path", "request id"],
                  [[iso(i.time), _tenant_key(i.tenant), i.grant_id or "-", i.status, str(i.status_code or "-"), i.path,
                    i.request_id or "-"] for i in report.expired_or_revoked]) if report.expired_or_revoked else ["  none"]
    if report.out_of_scope or report.skipped_before_since:
        out += ["", f"Not counted: {report.out_of_scope} requests outside the release containers or not reads, "
                    f"{report.skipped_before_since} before the start of the period."]
    if report.problems:
        out += ["", f"Unreadable log lines: {report.problems} (first: "
                    + "; ".join(f"{p.source}: {p.reason}" for p in report.problem_samples[:3]) + ")"]
    return redact("\n".join(out) + "\n")
