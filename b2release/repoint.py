"""Moving channel pointers: where (targets), whether (trusted / serves), and how (moves).

Shared by every command that writes a pointer: upload (onto a new version), rollback
(back), promote (across channels) and refresh (same version, new expiry). They all
- act on the same containers: each tenant's `tenant-<id>`, then the release container;
- check everything in every container before the first write;
- write tenants first and the release container last, each pointer with the
  compare-and-swap of `stores.channels.write_channel`, so a concurrent writer is never
  silently overwritten;
- queue every pointer written for the purge stage (in state, saved by the runner even
  when a later write fails, so what moved is still purged).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from b2release import cdn
from b2release.config import Config, parse_duration
from b2release.context import Context
from b2release.errors import B2ReleaseError, UsageError
from b2release.formats import pointer as pointer_fmt
from b2release.formats.signature import SigningKey
from b2release.state import State
from b2release.stores.base import Store
from b2release.stores.channels import ChannelState, ReleaseDigests, write_channel
from b2release.stores.tenants import tenant_container, validate_container_name, validate_tenants


@dataclass
class Targets:
    """Where a pointer-writing command acts."""

    product: str
    tenants: list[str]
    containers: list[str]  # tenant containers first, the release container last
    release_container: str
    ttl: int
    cache_control: str


def resolve_targets(ctx: Context, tenants_option: list[str] | None, product: str | None = None) -> Targets:
    """--tenant (else [store] tenants), the release container, the pointer TTL and headers."""
    config = ctx.config
    tenants = validate_tenants(list(tenants_option) if tenants_option else list(config.get("store.tenants")))
    tenant_containers = [tenant_container(t) for t in tenants]
    release = validate_container_name(config.get("store.release_container"), "store.release_container")
    if release in tenant_containers:
        raise UsageError(f"store.release_container {release!r} collides with a tenant container")
    ttl = parse_duration(config.get("store.pointer_ttl"), "store.pointer_ttl")
    return Targets(product or ctx.product_name(), tenants, [*tenant_containers, release], release, ttl,
                   config.get("store.pointer_cache_control"))


def check_purge_settings(config: Config, purge: bool) -> None:
    """Fail on CDN settings before any pointer moves, not after (exit 2, nothing changed)."""
    if not purge or cdn.provider_name(config) == "none":
        return
    cdn.check_base_url(config.get("cdn.base_url"))
    cdn.make_provider(config)  # checks zone id, api base, token presence; sends nothing


def trusted(state: ChannelState, product: str, channel: str) -> bool:
    """A pointer that verifies with the release key and names the place it sits at: its
    product, channel and container (a valid pointer copied from another tenant is not)."""
    p = state.pointer
    return bool(p is not None and state.verified and p.bound and p.product == product and p.channel == channel
                and p.container == state.container)


def serves(state: ChannelState, product: str, channel: str, version: str, digests: ReleaseDigests,
           now: float) -> bool:
    """True when the container's pointer already serves exactly this release, validly:
    trusted, this version, manifest and package, not expired. Anything else is (re)written."""
    p = state.pointer
    return bool(trusted(state, product, channel) and p is not None and p.version == version
                and p.manifest_sha256 == digests.manifest_sha256 and p.package_sha256 == digests.package_sha256
                and pointer_fmt.parse_rfc3339(p.expires_at) > now)


def new_pointer(targets: Targets, container: str, channel: str, version: str, digests: ReleaseDigests, sequence: int,
                now: float, **extra: Any) -> pointer_fmt.Pointer:
    """A pointer for one container: bound to that container and to the release's bytes."""
    return pointer_fmt.new(product=targets.product, channel=channel, container=container, version=version,
                           manifest_sha256=digests.manifest_sha256, package_sha256=digests.package_sha256,
                           sequence=sequence, ttl_s=targets.ttl, now=now, **extra)


@dataclass
class Move:
    """One container's planned pointer change (pointer None: already right, left alone)."""

    container: str
    state: ChannelState  # the channel as read before any write
    from_version: str | None
    to_version: str
    pointer: pointer_fmt.Pointer | None = None

    @property
    def sequence(self) -> int | None:
        if self.pointer is not None:
            return self.pointer.sequence
        return self.state.pointer.sequence if self.state.pointer is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {"container": self.container, "from": self.from_version, "to": self.to_version,
                "sequence": self.sequence, "changed": self.pointer is not None}


def write_moves(state: State, store: Store, moves: list[Move], key: SigningKey, cache_control: str,
                command: str) -> list[tuple[str, str]]:
    """Write every planned pointer (in the order given); queue what was written for purge.

    A failure part-way (a concurrent change caught by the compare-and-swap, a store error)
    still queues the pointers already written, and says which containers moved.
    """
    written: list[tuple[str, str]] = []
    moved: list[str] = []
    try:
        for move in moves:
            if move.pointer is None:
                continue
            for path in write_channel(store, move.container, move.pointer, key, cache_control, move.state.etag,
                                      existed=move.state.raw is not None):
                written.append((move.container, path))
            moved.append(move.container)
    except B2ReleaseError as exc:
        if moved:
            exc.message = (f"{exc.message}; {command} already moved the pointer in {', '.join(moved)}: "
                           f"re-run the same {command} to finish")
            exc.args = (exc.message,)
        raise
    finally:
        state.queue_purge(written)
    return written


def nothing_changed(exc: B2ReleaseError, prefix: str) -> B2ReleaseError:
    """Re-word a pre-check failure: what was being done, and that nothing changed."""
    exc.message = f"{prefix}: {exc.message}; nothing was changed"
    exc.args = (exc.message,)
    return exc


def purge_follow_up(state: State, purge: bool, written: list[tuple[str, str]],
                    data: dict[str, Any]) -> tuple[list[str], str]:
    """What follows a pointer move: the purge stage, chained by the runner (then, done), or
    with --no-purge a "not-run" entry in the result's data (the queue is kept for later)."""
    if not purge:
        data["purge"] = {"status": "not-run", "reason": "--no-purge", "pending": len(state.pending_purge)}
        return [], ""
    return ["purge"], "the channel pointers moved (the purge list is kept in state.json)" if written else ""
