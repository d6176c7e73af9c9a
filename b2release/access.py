"""Tenant access: `grant` (a read-only, https-only, expiring SAS) and `revoke`.

Each grant creates its own stored access policy on the tenant container `tenant-<id>`
(id `b2r-<UTC time>-<random>`, never reused) holding the permission (read), start and
expiry; the SAS names only that policy and the protocol (https). So:
- `revoke` deletes every `b2r-` policy of the container: every outstanding grant of the
  tenant stops working at once (Azure: within 30 seconds);
- Azure allows five stored access policies per container. They rotate: every grant first
  drops the `b2r-` policies that have expired, then adds its own; when five live policies
  remain (b2release's or other tools', which are left alone) grant refuses and says when
  the next slot frees up, or to run `revoke`.

The SAS is a secret: it is registered for redaction when made and appears only in the
grant command's own stdout, never in logs, state.json or error messages.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from b2release import log
from b2release.config import parse_duration
from b2release.context import Context
from b2release.errors import ConfigError, InputError, UsageError

POLICY_PREFIX = "b2r-"
MAX_POLICIES = 5  # Azure's limit of stored access policies per container
DEFAULT_EXPIRY = "24h"
CLOCK_SKEW = timedelta(minutes=5)

logger = log.get("access")


@dataclass
class Grant:
    tenant: str
    container: str
    product: str
    version: str
    url: str  # the package, with the SAS
    pointer_url: str  # the channel pointer, with the SAS
    container_url: str  # the container, with the SAS (append a blob path before the '?')
    expires_at: str
    policy_id: str
    permissions: str = "read"
    protocol: str = "https"

    def to_dict(self) -> dict:
        return asdict(self)


def _open_azure(ctx: Context, store_url: str | None, command: str):
    from b2release.stores import open_store

    store = open_store(store_url, ctx)
    if not store.supports_grants:
        store.close()
        raise UsageError(
            f"{command} needs an Azure store, but the store is {store.description}: a local folder has no SAS "
            "or access policies (share it by other means, e.g. a file server's permissions)"
        )
    return store


def _expiry(policy) -> datetime | None:
    """A stored policy's expiry as an aware datetime (the SDK may give a string)."""
    value = getattr(policy, "expiry", None)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def new_policy_id(now: float) -> str:
    return POLICY_PREFIX + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + "-" + secrets.token_hex(4)


def _product(ctx: Context) -> str:
    name = ctx.config.get("product.name") or ctx.state.data("package").get("product")
    if not name:
        raise UsageError("no product name: set [product] name in b2release.toml (or run package in this work dir)")
    from b2release.formats.names import validate_product_name

    return validate_product_name(name)


def grant_expiry_seconds(ctx: Context, expires: str | None) -> int:
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


def grant(ctx: Context, tenant: str, expires: str | None = None, version: str | None = None,
          store_url: str | None = None, now: float | None = None) -> Grant:
    """Make a tenant's download URL. `now` is for tests (e.g. an already expired grant)."""
    from azure.storage.blob import AccessPolicy, ContainerSasPermissions

    from b2release.formats import pointer as pointer_fmt
    from b2release.formats.names import validate_version
    from b2release.stores.channels import read_channel
    from b2release.stores.tenants import tenant_container

    container = tenant_container(tenant)
    seconds = grant_expiry_seconds(ctx, expires)
    product = _product(ctx)
    channel = pointer_fmt.validate_channel(ctx.config.get("store.channel"))
    now = time.time() if now is None else now
    with _open_azure(ctx, store_url, "grant") as store:
        if not store.https:
            raise ConfigError(f"grants are https-only, but {store.description} is plain http (an emulator)")
        store.require_account_key("grant")
        policies = store.get_policies(container)  # InputError if the container is missing
        if version is not None:
            version = validate_version(version)
        else:
            current = read_channel(store, container, product, channel)
            if current.pointer is None:
                raise InputError(f"{container} has no {channel} channel pointer for {product}; pass --version X.Y.Z")
            version = current.pointer.version
        package_path = f"{product}/{version}/{product}-{version}.zip"
        if store.stat(container, package_path) is None:
            raise InputError(f"{container} has no {package_path}; upload {version} for tenant {tenant} first")

        real_now = datetime.now(timezone.utc)
        expired = [p for p, policy in policies.items()
                   if p.startswith(POLICY_PREFIX) and (_expiry(policy) or real_now) <= real_now]
        for policy_id in expired:
            del policies[policy_id]
        if len(policies) >= MAX_POLICIES:
            live = sorted(filter(None, (_expiry(p) for p in policies.values())))
            when = f"; the next expires at {live[0]:%Y-%m-%dT%H:%M:%SZ}" if live else ""
            raise UsageError(
                f"{container} already has {len(policies)} live stored access policies, Azure's limit{when}; "
                f"run `b2release revoke --tenant {tenant}` to end all of its grants"
            )
        start = datetime.fromtimestamp(now, timezone.utc) - CLOCK_SKEW
        expiry = datetime.fromtimestamp(now + seconds, timezone.utc)
        policy_id = new_policy_id(now)
        policies[policy_id] = AccessPolicy(permission=ContainerSasPermissions(read=True), start=start, expiry=expiry)
        store.set_policies(container, policies)
        if expired:
            logger.info("dropped expired policies %s of %s", ", ".join(expired), container)
        sas = store.container_sas(container, policy_id)
        result = Grant(
            tenant=tenant,
            container=container,
            product=product,
            version=version,
            url=f"{store.blob_url(container, package_path)}?{sas}",
            pointer_url=f"{store.blob_url(container, pointer_fmt.pointer_path(product, channel))}?{sas}",
            container_url=f"{store.container_url(container)}?{sas}",
            expires_at=pointer_fmt.rfc3339(now + seconds),
            policy_id=policy_id,
        )
    logger.info("granted read access to %s until %s (policy %s)", container, result.expires_at, policy_id)
    return result


@dataclass
class Revocation:
    tenant: str
    container: str
    removed_policies: list[str]
    kept_policies: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def revoke(ctx: Context, tenant: str, store_url: str | None = None) -> Revocation:
    """Delete the b2release policies of a tenant container: every grant bound to them stops working."""
    from b2release.stores.tenants import tenant_container

    container = tenant_container(tenant)
    with _open_azure(ctx, store_url, "revoke") as store:
        store.require_account_key("revoke")
        policies = store.get_policies(container)
        removed = sorted(p for p in policies if p.startswith(POLICY_PREFIX))
        kept = {p: v for p, v in policies.items() if not p.startswith(POLICY_PREFIX)}
        if removed:
            store.set_policies(container, kept)
    if removed:
        logger.info("revoked every grant of %s (removed policy %s)", container, ", ".join(removed))
    return Revocation(tenant=tenant, container=container, removed_policies=removed, kept_policies=sorted(kept))
