"""Which tenant, product, version, channel and grant a request was for.

Layout (docs/distribution.md): containers `tenant-<id>` (one per tenant) and `releases`;
inside, `<product>/<version>/<file>` and `<product>/channels/<channel>.json` (+ `.sig`).

Grant status of a SAS request, first match wins:
- `expired`: the SAS's own `se=` expiry is before the request time;
- `revoked`: a set of live stored access policy ids was supplied and `si=` is not in it;
- `rejected`: Azure answered 403 with an authentication or authorization error (this is how
  it reports a request whose stored policy expired or was deleted, when the URL shows neither);
- `live`: none of these.
Requests without a SAS have no grant status.
"""

from __future__ import annotations

import bisect
import datetime as _dt
from dataclasses import dataclass, replace
from typing import Callable, Collection, Iterable

from b2release.accesslogs.model import Request, parse_time
from b2release.formats.auditlog import AuditLine
from b2release.formats.names import TENANT_PREFIX

# (tenant or None for the release container, product, channel, request time) -> version served then
PointerVersion = Callable[[str | None, str, str, _dt.datetime], str | None]

RELEASE_CONTAINER = "releases"
AUDIT_PREFIX = "audit"
METADATA_FILES = ("manifest.json", "manifest.json.sig", "SHA256SUMS")
AUTH_FAILURES = frozenset({
    "AuthenticationFailed", "AuthorizationFailure", "AuthorizationError", "SASAuthorizationError",
    "AuthorizationPermissionMismatch", "AuthorizationResourceTypeMismatch", "AuthorizationServiceMismatch",
    "AuthorizationProtocolMismatch", "AuthorizationSourceIPMismatch",
})
EXPIRED_OR_REVOKED = ("expired", "revoked", "rejected")


@dataclass(frozen=True)
class Target:
    scope: str  # tenant | releases | other
    tenant: str | None
    product: str | None
    version: str | None
    channel: str | None
    kind: str  # package | pointer | pointer-signature | metadata | file | listing | audit-log | other


@dataclass(frozen=True)
class AttributedRequest:
    request: Request
    target: Target
    grant_id: str | None
    grant_status: str | None  # live | expired | revoked | rejected, None without a SAS

    @property
    def in_scope(self) -> bool:
        return self.target.scope != "other" and self.request.is_read

    @property
    def is_error(self) -> bool:
        code = self.request.status_code
        return code is None or code >= 400

    @property
    def is_download(self) -> bool:
        return self.target.kind == "package" and self.request.operation == "GetBlob" and self.request.status_code == 200


def target_of(container: str | None, blob: str | None, release_container: str = RELEASE_CONTAINER) -> Target:
    if container and container.startswith(TENANT_PREFIX) and len(container) > len(TENANT_PREFIX):
        scope, tenant = "tenant", container[len(TENANT_PREFIX):]
    elif container == release_container:
        scope, tenant = "releases", None
    else:
        return Target("other", None, None, None, None, "other")
    if not blob:
        return Target(scope, tenant, None, None, None, "listing")
    parts = blob.split("/")
    if scope == "releases" and parts[0] == AUDIT_PREFIX:  # the release audit log (formats/auditlog.py)
        return Target(scope, None, None, None, None, "audit-log")
    if len(parts) == 3 and parts[1] == "channels":
        name = parts[2]
        if name.endswith(".json"):
            return Target(scope, tenant, parts[0], None, name[: -len(".json")], "pointer")
        if name.endswith(".json.sig"):
            return Target(scope, tenant, parts[0], None, name[: -len(".json.sig")], "pointer-signature")
    if len(parts) >= 3 and parts[1][:1].isdigit():
        name = parts[-1]
        if name.endswith(".zip"):
            kind = "package"
        elif name in METADATA_FILES or name.endswith(".intoto.jsonl"):
            kind = "metadata"
        else:
            kind = "file"
        return Target(scope, tenant, parts[0], parts[1], None, kind)
    return Target(scope, tenant, parts[0] if len(parts) > 1 else None, None, None, "other")


def grant_status(request: Request, live_policies: Collection[str] | None) -> str | None:
    sas = request.sas
    if sas is None:
        return None
    if sas.expiry is not None and sas.expiry < request.time:
        return "expired"
    if live_policies is not None and sas.policy_id is not None and sas.policy_id not in live_policies:
        return "revoked"
    if request.status_code == 403 and request.status_text in AUTH_FAILURES:
        return "rejected"
    return "live"


def pointer_history(lines: Iterable[AuditLine]) -> PointerVersion:
    """Which version each channel pointer served when, from the release audit log's pointer moves.

    A pointer read is attributed to the version of the last move at or before the request.
    Release-container pointers are recorded with no tenants; they are looked up with tenant None.
    """
    moves: dict[tuple[str | None, str, str], list[tuple[_dt.datetime, str]]] = {}
    for line in lines:
        record = line.record
        if record.action != "move-pointer" or not (record.product and record.channel and record.version):
            continue
        when = parse_time(record.time)
        for tenant in record.tenants or (None,):
            moves.setdefault((tenant, record.product, record.channel), []).append((when, record.version))
    for history in moves.values():
        history.sort()

    def lookup(tenant: str | None, product: str, channel: str, time: _dt.datetime) -> str | None:
        history = moves.get((tenant, product, channel))
        if not history:
            return None
        index = bisect.bisect_right([t for t, _ in history], time) - 1
        return history[index][1] if index >= 0 else None

    return lookup


def attribute(request: Request, live_policies: Collection[str] | None = None,
              release_container: str = RELEASE_CONTAINER, pointer_version: PointerVersion | None = None) -> AttributedRequest:
    target = target_of(request.container, request.blob, release_container)
    if pointer_version is not None and target.kind in ("pointer", "pointer-signature") and target.product and target.channel:
        target = replace(target, version=pointer_version(target.tenant, target.product, target.channel, request.time))
    grant_id = request.sas.policy_id if request.sas else None
    return AttributedRequest(request, target, grant_id, grant_status(request, live_policies))
