"""revoke: every outstanding grant of a tenant stops working (its b2release access
policies are deleted; Azure applies this within 30 seconds). Policies of other tools on
the container are left alone and reported as kept."""

from __future__ import annotations

from dataclasses import dataclass

from b2release import log
from b2release.artifacts import RevokeRecord
from b2release.context import Context
from b2release.stages import StageResult
from b2release.stores import open_store
from b2release.stores.tenants import tenant_container

NAME = "revoke"


@dataclass
class Options:
    tenant: str = ""
    store: str | None = None


def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    container = tenant_container(opts.tenant)
    with open_store(ctx.config, opts.store, ctx.correlation_id) as store:
        store.require_grants(NAME)
        revocation = store.revoke_grants(container)
    if revocation.removed:
        log.get(NAME).info("revoked every grant of %s (removed policy %s)", container, ", ".join(revocation.removed))
        summary = (f"revoked every grant of tenant {opts.tenant} (policy {', '.join(revocation.removed)} deleted; "
                   "Azure applies this within 30 seconds)")
    else:
        summary = f"tenant {opts.tenant} had no b2release grant policy; nothing to revoke"
    data = {"command": NAME, "tenant": opts.tenant, "container": container,
            "removed_policies": revocation.removed, "kept_policies": revocation.kept}
    return StageResult(stage=NAME, summary=summary, data=data,
                       record=RevokeRecord(tenant=opts.tenant, container=container, removed=revocation.removed))
