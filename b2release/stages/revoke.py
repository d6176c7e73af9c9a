"""revoke: every outstanding grant of a tenant stops working (its b2release access
policies are deleted; Azure applies this within 30 seconds). Policies of other tools on
the container are left alone and reported as kept.

With `[cdn] token_auth` (cdn/tokens.py) revoke then ends the tenant's grants at the edge
too: it rotates the tenant's token generation (a new secret), rewrites the tenant's WAF
custom rule with it (creating the rule if missing: the first revoke is also the setup),
and purges every URL of the tenant's container (pointers and versioned files) from the
CDN. Each step is safe to repeat: a failed revoke is simply run again. `--dry-run`
reads the policies (and the rule and the container's URLs) and returns the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from b2release import log
from b2release.artifacts import RevokeRecord
from b2release.audit_trail import AuditTrail
from b2release.cdn import cloudflare, tokens
from b2release.cdn.targets import public_url
from b2release.context import Context
from b2release.formats.signature import SigningKey
from b2release.plan import GrantChange, Plan
from b2release.stages import StageResult, planned
from b2release.stores import PreconditionFailed, Store, open_store
from b2release.stores.tenants import tenant_container

NAME = "revoke"


@dataclass
class Options:
    tenant: str = ""
    store: str | None = None
    signing_key: Path | None = None  # signs the audit line
    dry_run: bool = False  # read everything, change nothing: return the plan (b2release/plan.py)


def _revoke_at_edge(ctx: Context, store: Store, container: str, auth: tokens.TokenAuth,
                    provider: cloudflare.CloudflareProvider) -> dict[str, Any]:
    """New secret, rule rewritten, the container's URLs purged: old tokens fail at the edge."""
    logger = log.get(NAME)
    generations = tokens.Generations(store, ctx.config.get("store.release_container"), PreconditionFailed)
    generation = generations.rotate(container)
    change = provider.upsert_rule(tokens.tenant_rule(auth, container, generation))
    logger.info("CDN rule %s %s with generation %d", tokens.rule_ref(container), change, generation.number)
    urls = [public_url(auth.base_url, container, blob.path) for blob in store.list(container)]
    report = provider.purge(urls, on_batch=lambda n, total, size: logger.info(
        "purged batch %d of %d (%d URLs of %s)", n, total, size, container))
    return {"token_auth": True, "rule": tokens.rule_ref(container), "rule_change": change,
            "generation": generation.number, "purged_urls": len(report.urls), "purge_requests": report.requests}


def _plan(ctx: Context, store: Store, key: SigningKey, tenant: str, container: str,
          edge: tuple[tokens.TokenAuth, cloudflare.CloudflareProvider] | None) -> StageResult:
    """--dry-run: the policies revoke would delete (and keep), and with token auth the secret
    rotation, the rule rewrite and every URL of the container it would purge; changes nothing."""
    plan = Plan(NAME)
    revocation = store.plan_revoke(container)
    plan.grants = [GrantChange(tenant, container, "remove", policy_id=p) for p in revocation.removed]
    if revocation.kept:
        plan.notes.append(f"policies of other tools, kept: {', '.join(revocation.kept)}")
    if edge is not None:
        auth, provider = edge
        generations = tokens.Generations(store, ctx.config.get("store.release_container"), PreconditionFailed)
        current = generations.get(container)
        plan.notes.append(f"would rotate {container}'s CDN token secret to generation "
                          f"{(current.number if current else 0) + 1} in {generations.where}")
        plan.cdn_rules.append(f"{tokens.rule_ref(container)}: "
                              f"{'rewrite' if provider.find_rules(tokens.rule_ref(container)) else 'create'}")
        plan.purge_urls = [public_url(auth.base_url, container, blob.path) for blob in store.list(container)]
    trail = AuditTrail(ctx, store, key, NAME, planned=True)
    trail.record("revoke", tenants=[tenant])
    plan.audit_lines = trail.lines
    return planned(plan, tenant=tenant, container=container, removed_policies=revocation.removed,
                   kept_policies=revocation.kept)


def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    container = tenant_container(opts.tenant)
    edge = None
    if tokens.enabled(ctx.config):  # checked in full before anything changes
        edge = (tokens.from_config(ctx.config), cloudflare.from_config(ctx.config))
    key = ctx.signing_key(opts.signing_key)  # the audit line is signed: fail before anything changes
    with open_store(ctx.config, opts.store, ctx.correlation_id) as store:
        store.require_grants(NAME)
        if opts.dry_run:
            return _plan(ctx, store, key, opts.tenant, container, edge)
        revocation = store.revoke_grants(container)
        at_edge = _revoke_at_edge(ctx, store, container, *edge) if edge is not None else None
        AuditTrail(ctx, store, key, NAME).record("revoke", tenants=[opts.tenant])
    if revocation.removed:  # the result line says it: no log line of the same
        summary = (f"revoked every grant of tenant {opts.tenant} (policy {', '.join(revocation.removed)} deleted; "
                   "Azure applies this within 30 seconds)")
    else:
        summary = f"tenant {opts.tenant} had no b2release grant policy; nothing to revoke"
    data: dict[str, Any] = {"command": NAME, "tenant": opts.tenant, "container": container,
                            "removed_policies": revocation.removed, "kept_policies": revocation.kept}
    if at_edge is not None:
        data["cdn"] = at_edge
        summary += (f"; CDN: new token secret (generation {at_edge['generation']}) in rule {at_edge['rule']}, "
                    f"{at_edge['purged_urls']} URLs purged")
    return StageResult(stage=NAME, summary=summary, data=data,
                       record=RevokeRecord(tenant=opts.tenant, container=container, removed=revocation.removed))
