"""rollback: point a channel back at an older version that is already in the store.

A command, not a pipeline stage (it is not in DESIGN_ORDER): the CLI runs it through
`stages.execute` so the run is recorded in state.json like a stage's.

Order (nothing is written until every container passed every check):

1. for each container (the tenants' and the release container, as upload uses): read the
   channel pointer and check it with the release public key; the target version must be
   lower than the version it serves (a rollback goes back; upload / promote go forward);
2. the target version must be complete in that container (every SHA256SUMS file present
   with its sha256), and its manifest must hash to the SHA256SUMS entry, verify with the
   release key and name this product and version;
3. then, tenants first and the release container last, a new signed pointer with
   `sequence = current + 1` and `rollback: {from, reason}` is written with the
   compare-and-swap of `write_channel` (a concurrent upload is never silently overwritten);
4. the pointer paths are queued for the purge stage, which runs unless --no-purge.

The helpers below (targets, pre-checks, writing, purging) are shared with `promote`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from b2release import log
from b2release.config import parse_duration
from b2release.context import Context
from b2release.errors import B2ReleaseError, CheckFailed, UsageError
from b2release.formats import pointer as pointer_fmt
from b2release.stages import StageResult

NAME = "rollback"
MAX_REASON = 500  # the reason is signed into every pointer; keep it a sentence, not a file


@dataclass
class Options:
    channel: str | None = None
    to: str | None = None
    tenants: list[str] | None = None
    reason: str | None = None
    purge: bool = True
    store: str | None = None
    signing_key: Path | None = None


# --- shared with promote ----------------------------------------------------------------
@dataclass
class Targets:
    """Where a repointing command acts: the same containers upload writes to."""

    product: str
    tenants: list[str]
    containers: list[str]  # tenant containers first, the release container last
    release_container: str
    ttl: int
    cache_control: str


def product_name(ctx: Context) -> str:
    """[product] name, else the product this work dir last uploaded."""
    from b2release.formats.names import validate_product_name

    name = ctx.config.get("product.name") or ctx.state.data("upload").get("product")
    if not name:
        raise UsageError("no product name: set [product] name in b2release.toml (or B2RELEASE_PRODUCT_NAME)")
    return validate_product_name(name)


def resolve_targets(ctx: Context, tenants_option: list[str] | None) -> Targets:
    from b2release.stores.tenants import tenant_container, validate_container_name, validate_tenants

    config = ctx.config
    tenants = validate_tenants(list(tenants_option) if tenants_option else list(config.get("store.tenants")))
    tenant_containers = [tenant_container(t) for t in tenants]
    release = validate_container_name(config.get("store.release_container"), "store.release_container")
    if release in tenant_containers:
        raise UsageError(f"store.release_container {release!r} collides with a tenant container")
    ttl = parse_duration(config.get("store.pointer_ttl"), "store.pointer_ttl")
    return Targets(product_name(ctx), tenants, [*tenant_containers, release], release, ttl,
                   config.get("store.pointer_cache_control"))


def check_purge_settings(ctx: Context, purge: bool) -> None:
    """Fail on CDN settings before any pointer moves, not after (exit 2, nothing changed)."""
    from b2release import cdn

    if not purge or cdn.provider_name(ctx.config) == "none":
        return
    cdn.check_base_url(ctx.config.get("cdn.base_url"))
    cdn.make_provider(ctx.config)  # checks zone id, api base, token presence; sends nothing


def trusted(state: Any, product: str, channel: str) -> bool:
    """A pointer that verifies with the release key and names the channel it sits at."""
    p = state.pointer
    return bool(p is not None and state.verified and p.product == product and p.channel == channel)


def serves(state: Any, product: str, channel: str, version: str, manifest_sha256: str, now: float) -> bool:
    """True when the container's pointer already serves exactly this release, validly."""
    p = state.pointer
    return (trusted(state, product, channel) and p.version == version and p.manifest_sha256 == manifest_sha256
            and pointer_fmt.parse_rfc3339(p.expires_at) > now)


@dataclass
class Move:
    """One container's planned pointer change (pointer None: already right, left alone)."""

    container: str
    state: Any  # stores.channels.ChannelState of the channel being written
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


def write_moves(ctx: Context, store: Any, moves: list[Move], key: Any, cache_control: str,
                command: str) -> list[tuple[str, str]]:
    """Write every planned pointer (in the order given); queue what was written for purge.

    A failure part-way (a concurrent change caught by the compare-and-swap, a store error)
    still queues the pointers already written, and says which containers moved.
    """
    from b2release.stores.channels import record_purge, write_channel

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
        if written:
            record_purge(ctx.state, written)
        if moved:
            exc.message = (f"{exc.message}; {command} already moved the pointer in {', '.join(moved)}: "
                           f"re-run the same {command} to finish")
            exc.args = (exc.message,)
        raise
    if written:
        record_purge(ctx.state, written)
    return written


def purge_after(ctx: Context, written: list[tuple[str, str]], purge: bool, command: str) -> dict[str, Any]:
    """Run the purge stage (unless --no-purge) and summarise it for the result document."""
    from b2release import stages

    if not purge:
        return {"status": "not-run", "reason": "--no-purge", "pending": len(ctx.state.pending_purge)}
    try:
        result = stages.run_stage(ctx, "purge")
    except B2ReleaseError as exc:
        if written:
            exc.message = (f"{command}: the channel pointers moved, but the CDN purge failed: {exc.message}; "
                           "re-run `b2release purge` (the pending list is kept in state.json)")
        else:
            exc.message = f"{command}: the CDN purge failed: {exc.message}; re-run `b2release purge`"
        exc.args = (exc.message,)
        raise
    summary: dict[str, Any] = {"status": result.status}
    if result.reason:
        summary["reason"] = result.reason
    for key in ("provider", "urls", "requests", "batches", "retries"):
        if key in result.data:
            summary[key] = result.data[key]
    return summary


def nothing_changed(exc: B2ReleaseError, prefix: str) -> B2ReleaseError:
    """Re-word a pre-check failure: what was being done, and that nothing changed."""
    exc.message = f"{prefix}: {exc.message}; nothing was changed"
    exc.args = (exc.message,)
    return exc


# --- the command --------------------------------------------------------------------------
def _reason(raw: str | None) -> str:
    text = " ".join((raw or "").split())  # one line: it lands in a signed JSON document and in logs
    if not text:
        raise UsageError("rollback needs --reason TEXT: why the channel goes back (it is signed into the pointer)")
    if len(text) > MAX_REASON:
        raise UsageError(f"--reason is {len(text)} characters long; at most {MAX_REASON}")
    return text


def run(ctx: Context, options: Options | None = None) -> StageResult:
    from b2release.formats.names import compare_versions, validate_version
    from b2release.stages.package import resolve_signing_key
    from b2release.stores import open_store
    from b2release.stores.channels import read_channel, verify_release

    opts = options or Options()
    logger = log.get(NAME)
    reason = _reason(opts.reason)
    channel = pointer_fmt.validate_channel(opts.channel or ctx.config.get("store.channel"))
    if not opts.to:
        raise UsageError("rollback needs --to X.Y.Z: the older version the channel should serve")
    target = validate_version(opts.to)
    targets = resolve_targets(ctx, opts.tenants)
    product = targets.product
    key = resolve_signing_key(ctx, opts.signing_key)
    public = key.public()
    check_purge_settings(ctx, opts.purge)
    if not targets.tenants:
        logger.warning("no tenants (--tenant or [store] tenants): rolling back %s only", targets.release_container)
    failing = f"cannot roll back {product} channel {channel} to {target}"

    with open_store(opts.store, ctx) as store:
        # 1-2. Every check, in every container, before anything is written.
        moves: list[Move] = []
        manifests: dict[str, str] = {}
        try:
            states = {c: read_channel(store, c, product, channel, public) for c in targets.containers}
            for container in targets.containers:
                state = states[container]
                current = state.pointer
                where = f"{container}/{state.path}"
                if current is None:
                    raise CheckFailed(f"{where} does not exist: channel {channel} was never uploaded there")
                if compare_versions(target, current.version) > 0:
                    raise CheckFailed(
                        f"{where} serves {current.version}, lower than {target}: a rollback only goes back "
                        "(to move forward use `b2release upload` or `b2release promote`)"
                    )
                manifests[container] = verify_release(store, container, product, target, public)
            if len(set(manifests.values())) > 1:
                raise CheckFailed(f"{product} {target} has different manifests in "
                                  f"{', '.join(sorted(manifests))}: the store was changed outside b2release")
        except B2ReleaseError as exc:
            raise nothing_changed(exc, failing) from None

        now = time.time()
        for container in targets.containers:
            state = states[container]
            current = state.pointer
            if not trusted(state, product, channel):
                logger.warning("%s/%s does not verify with the release key (or names another channel); "
                               "rewritten", container, state.path)
            from_version = current.version
            if current.version == target and isinstance(current.rollback, dict):
                from_version = str(current.rollback.get("from", from_version))  # finishing an earlier run
            move = Move(container, state, from_version, target)
            if not serves(state, product, channel, target, manifests[container], now):
                move.pointer = pointer_fmt.new(product, channel, target, manifests[container], current.sequence + 1,
                                               targets.ttl, now=now,
                                               rollback={"from": from_version, "reason": reason})
            moves.append(move)

        # 3. Tenants first, the release container last (the order of targets.containers).
        written = write_moves(ctx, store, moves, key, targets.cache_control, NAME)
        store_description = store.description

    changed = [m for m in moves if m.pointer is not None]
    # 4. Purge (the list was saved by write_moves, so a failed purge can be re-run).
    purge = purge_after(ctx, written, opts.purge, NAME)
    if changed:
        froms = sorted({m.from_version for m in changed if m.from_version})
        summary = (f"rolled back {product} channel {channel} from {', '.join(froms)} to {target} in "
                   f"{len(changed)} of {len(moves)} containers (reason: {reason}); purge: {purge['status']}")
    else:
        summary = f"{product} channel {channel} already serves {target} in every container; nothing changed"
    data = {
        "command": NAME,
        "product": product,
        "channel": channel,
        "version": target,
        "reason": reason,
        "store": store_description,
        "tenants": targets.tenants,
        "containers": [m.to_dict() for m in moves],
        "purge_queued": len(written),
        "purge": purge,
    }
    return StageResult(
        stage=NAME,
        summary=summary,
        data=data,
        state_data={"product": product, "channel": channel, "version": target, "reason": reason,
                    "store": store_description, "containers": [m.to_dict() for m in moves]},
    )


__all__ = ["NAME", "Options", "run", "Targets", "Move", "resolve_targets", "check_purge_settings", "trusted",
           "serves", "write_moves", "purge_after", "nothing_changed", "product_name"]
