"""grant: a read-only, https-only, expiring, revocable download URL for one tenant.

Each grant is its own stored access policy on the tenant container `tenant-<id>` (the
store's `grant_read`): the SAS names only that policy and the protocol, so `revoke`
(deleting the tenant's policies) ends every outstanding grant at once. Expiry: `--expires`
(default 24h), at most `[store] max_grant_expiry`.

With `[cdn] token_auth` (cdn/tokens.py) the grant also gives CDN URLs,
`{base_url}/{container}/{path}?{SAS}&{token_param}={token}`: the token is valid until the
grant expires and only under the tenant's path prefix, checked at the edge by the tenant's
WAF custom rule. Before any policy is made the rule is read back: a missing rule is
installed, one holding another secret refuses the grant. Plain output is then the CDN URL.

The SAS and the token are secrets: registered for redaction when made, they appear only in
this command's own stdout (`StageResult.secret_text` / `secret_data`), never in logs,
state.json or error messages. The run's record names the tenant, version, policy and
expiry only. `--dry-run` checks and reads the same, then returns the plan: no policy, SAS,
token, generation or rule is made.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from b2release import log
from b2release.artifacts import GrantRecord
from b2release.audit_trail import AuditTrail
from b2release.cdn import cloudflare, tokens
from b2release.config import parse_duration
from b2release.context import Context
from b2release.errors import ConfigError, InputError, UsageError
from b2release.formats import pointer as pointer_fmt
from b2release.formats.names import validate_version
from b2release.formats.signature import SigningKey
from b2release.plan import GrantChange, Plan
from b2release.stages import StageResult, planned
from b2release.stores import PreconditionFailed, Store, open_store
from b2release.stores.channels import read_channel
from b2release.stores.tenants import tenant_container

NAME = "grant"
DEFAULT_EXPIRY = "24h"
CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class Options:
    tenant: str = ""
    expires: str | None = None
    version: str | None = None
    store: str | None = None
    signing_key: Path | None = None  # signs the audit line
    now: float | None = None  # the grant's start time; tests make already-expired grants with it
    dry_run: bool = False  # check and read everything, make nothing: return the plan (b2release/plan.py)


def expiry_seconds(ctx: Context, expires: str | None) -> int:
    limit_text = ctx.config.get("store.max_grant_expiry")
    limit = parse_duration(limit_text, "store.max_grant_expiry")
    if expires is None:
        return min(parse_duration(DEFAULT_EXPIRY, "default expiry"), limit)
    try:
        seconds = parse_duration(expires, "--expires")
    except ConfigError as exc:
        raise UsageError(exc.message) from None
    if seconds > limit:
        raise UsageError(f"--expires {expires} is longer than store.max_grant_expiry {limit_text}")
    return seconds


@dataclass
class Edge:
    """Token auth for one grant: its settings, the rules API, and (once prepared) the tenant's secret."""

    auth: tokens.TokenAuth
    api: tokens.RulesApi
    generation: tokens.Generation | None = None
    secret: str = ""
    rule_change: str = ""

    def prepare(self, ctx: Context, store: Store, container: str, tenant: str) -> None:
        generations = tokens.Generations(store, ctx.config.get("store.release_container"), PreconditionFailed)
        self.generation = generations.ensure(container)
        self.rule_change = tokens.require_rule(self.api, self.auth, container, self.generation, tenant)
        if self.rule_change != "unchanged":
            log.get(NAME).info("installed the CDN rule %s (generation %d)", tokens.rule_ref(container),
                               self.generation.number)
        self.secret = tokens.tenant_secret(self.auth, container, self.generation)

    def plan(self, ctx: Context, store: Store, container: str, tenant: str, plan: Plan) -> None:
        """--dry-run: what `prepare` would make (a first token generation, a missing rule); reads only."""
        generations = tokens.Generations(store, ctx.config.get("store.release_container"), PreconditionFailed)
        generation = generations.get(container)
        if generation is None:
            plan.notes.append(f"would start {container}'s CDN token generation 1 in {generations.where}")
        elif tokens.check_rule(self.api, self.auth, container, generation, tenant) == "ok":
            return
        plan.cdn_rules.append(f"{tokens.rule_ref(container)}: create")

    def describe(self, container: str) -> dict:
        assert self.generation is not None
        return {"token_auth": True, "rule": tokens.rule_ref(container), "rule_change": self.rule_change,
                "generation": self.generation.number, "token_param": self.auth.param}


def _plan(ctx: Context, store: Store, edge: Edge | None, key: SigningKey, tenant: str, container: str, product: str,
          channel: str, version: str, expires: float) -> StageResult:
    """--dry-run: the policy a grant would add (and the expired ones it would drop), the CDN rule
    it would install, its audit line; no policy, SAS, token or rule is made."""
    plan = Plan(NAME)
    plan.grants = [GrantChange(tenant, container, "remove", policy_id=p) for p in store.plan_grant(container)]
    expires_at = pointer_fmt.rfc3339(expires)
    plan.grants.append(GrantChange(tenant, container, "create", expires_at=expires_at))
    if edge is not None:
        edge.plan(ctx, store, container, tenant, plan)
    trail = AuditTrail(ctx, store, key, NAME, product, channel, planned=True)
    trail.record("grant", tenants=[tenant], version=version)
    plan.audit_lines = trail.lines
    plan.notes.append("the policy id is chosen when the grant is made; the SAS and token exist only then")
    return planned(plan, tenant=tenant, container=container, product=product, version=version, expires_at=expires_at)


def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    container = tenant_container(opts.tenant)
    seconds = expiry_seconds(ctx, opts.expires)
    product = ctx.product_name()
    channel = pointer_fmt.validate_channel(ctx.config.get("store.channel"))
    now = time.time() if opts.now is None else opts.now
    # Token auth is checked in full (key, token, settings) before anything is read or made.
    edge = Edge(tokens.from_config(ctx.config), cloudflare.from_config(ctx.config)) if tokens.enabled(ctx.config) else None
    key = ctx.signing_key(opts.signing_key)  # the audit line is signed: fail before anything is made
    with open_store(ctx.config, opts.store, ctx.correlation_id) as store:
        store.require_grants(NAME)
        if not store.container_exists(container):
            raise InputError(f"container {container} does not exist in {store.description}")
        if opts.version is not None:
            version = validate_version(opts.version)
        else:
            current = read_channel(store, container, product, channel)
            if current.pointer is None:
                raise InputError(f"{container} has no {channel} channel pointer for {product}; pass --version X.Y.Z")
            version = current.pointer.version
        package_path = f"{product}/{version}/{product}-{version}.zip"
        if store.stat(container, package_path) is None:
            raise InputError(f"{container} has no {package_path}; upload {version} for tenant {opts.tenant} first")
        if opts.dry_run:
            return _plan(ctx, store, edge, key, opts.tenant, container, product, channel, version, now + seconds)
        if edge is not None:
            edge.prepare(ctx, store, container, opts.tenant)
        start = datetime.fromtimestamp(now, timezone.utc) - CLOCK_SKEW
        grant = store.grant_read(container, start, datetime.fromtimestamp(now + seconds, timezone.utc))
        AuditTrail(ctx, store, key, NAME, product, channel).record("grant", tenants=[opts.tenant], version=version,
                                                                  grant_id=grant.policy_id)
        pointer_path = pointer_fmt.pointer_path(product, channel)
        urls = {
            "url": f"{store.blob_url(container, package_path)}?{grant.query}",
            "pointer_url": f"{store.blob_url(container, pointer_path)}?{grant.query}",
            "container_url": f"{store.container_url(container)}?{grant.query}",
        }
    if edge is not None:
        urls.update(tokens.cdn_urls(edge.auth, container, edge.secret, grant.query, int(now + seconds),
                                    {"cdn_url": package_path, "cdn_pointer_url": pointer_path}))
    logger = log.get(NAME)
    if grant.dropped:
        logger.info("dropped expired policies %s of %s", ", ".join(grant.dropped), container)
    expires_at = pointer_fmt.rfc3339(now + seconds)
    data = {"command": NAME, "tenant": opts.tenant, "container": container, "product": product, "version": version,
            "expires_at": expires_at, "policy_id": grant.policy_id, "permissions": "read", "protocol": "https"}
    if edge is not None:
        data["cdn"] = edge.describe(container)
    revoke = ctx.follow_up("revoke", "--tenant", opts.tenant, *(["--store", opts.store] if opts.store else []))
    return StageResult(
        stage=NAME,
        summary=(f"grant for tenant {opts.tenant}: {product} {version}, read-only, https-only, expires {expires_at} "
                 f"(policy {grant.policy_id}{'; CDN token until then' if edge else ''}); "
                 f"revoke with: {revoke}"),
        data=data,
        record=GrantRecord(tenant=opts.tenant, container=container, version=version, policy_id=grant.policy_id,
                           expires_at=expires_at),
        secret_text=urls["cdn_url"] if edge is not None else urls["url"],
        secret_data=urls,
    )
