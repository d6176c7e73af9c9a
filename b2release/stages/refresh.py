"""refresh: re-sign a channel's pointers before they expire, without changing the version.

Pointers expire (`store.pointer_ttl`) so that a client notices a frozen channel (TUF's
freeze protection). A channel that gets no release for that long would therefore lock
its tenants out; `refresh` (run by a scheduled CI job, e.g. daily) issues each pointer
again with the same version and manifest, `sequence + 1` and a new expiry.

It only renews what verifies: a pointer that is missing, does not verify with the release
key, or names a version that is incomplete or whose manifest differs is refused (exit 1,
nothing written): re-signing it would launder a tampered or broken channel. Pointers with
more than `--within` left (default: half of pointer_ttl) are left alone, so a daily job
re-signs about twice per TTL. Same order as rollback: every check in every container
first, then tenants, then the release container; then the purge of what moved.

A refresh never changes what a channel serves, so it never wins a race: when its
compare-and-swap is lost, the pointer another writer just wrote is fresh and is left
alone (if it verifies; otherwise the refresh stops, exit 1, and never re-signs it).

`--dry-run` makes every check and decision, then returns the plan (pointers, the chained
purge, audit lines) instead of writing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from b2release.artifacts import RefreshRecord
from b2release.audit_trail import AuditTrail
from b2release.config import parse_duration
from b2release.context import Context
from b2release.errors import B2ReleaseError, CheckFailed, ToolError
from b2release.formats import pointer as pointer_fmt
from b2release.formats.signature import SigningKey
from b2release.planning import pointer_plan
from b2release.repoint import (
    Move,
    Race,
    changed_unverified,
    check_purge_settings,
    new_pointer,
    nothing_changed,
    purge_follow_up,
    rerun_hint,
    resolve_targets,
    settle_all,
    trusted,
    write_moves,
)
from b2release.stages import StageResult, planned
from b2release.stores import Store, open_store
from b2release.stores.channels import ChannelState, read_channel, verify_release

NAME = "refresh"


@dataclass
class Options:
    channel: str | None = None
    tenants: list[str] | None = None
    within: str | None = None  # re-sign pointers that expire within this duration
    purge: bool = True
    store: str | None = None
    signing_key: Path | None = None
    dry_run: bool = False  # check and decide, change nothing: return the plan (b2release/plan.py)


def _plan(ctx: Context, store: Store, key: SigningKey, product: str, channel: str, moves: list[Move],
          purge: bool) -> StageResult:
    """--dry-run: the pointers the same checks chose to re-sign, their audit lines and the purge after."""
    trail = AuditTrail(ctx, store, key, NAME, product, channel, planned=True)
    trail.moves(moves)
    plan = pointer_plan(NAME, ctx.config, moves, trail.lines, ctx.state.pending_purge, purge,
                        left_alone="valid for longer than --within, left alone")
    return planned(plan, product=product, channel=channel, store=store.description)


def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    channel = pointer_fmt.validate_channel(opts.channel or ctx.config.get("store.channel"))
    targets = resolve_targets(ctx, opts.tenants)
    within = parse_duration(opts.within, "--within") if opts.within else targets.ttl // 2
    product = targets.product
    key = ctx.signing_key(opts.signing_key)
    public = key.public()
    check_purge_settings(ctx.config, opts.purge)
    failing = f"cannot refresh {product} channel {channel}"

    race = Race()  # this refresh's start: its pointers are issued at this time

    def decide(state: ChannelState, during: bool) -> Move:
        """Re-sign one container's pointer if it verifies and expires within `within`."""
        race.observe(state, at_start=not during)
        container, current = state.container, state.pointer
        where = f"{container}/{state.path}"
        if current is None:
            raise CheckFailed(f"{where} does not exist: channel {channel} was never uploaded there")
        if during:  # another writer just issued this pointer: it is fresh, refreshing it again is not needed
            if not trusted(state, product, channel):
                raise changed_unverified(state, NAME)
            return Move(container, state, current.version, current.version)
        if not trusted(state, product, channel):
            raise CheckFailed(f"{where} does not verify with the release key (or names another channel or "
                              "container); refusing to re-sign it: upload, promote or roll back to a verified "
                              "release")
        # Complete, signed, and the very manifest and package the pointer names.
        digests = verify_release(store, container, product, current.version, public, current.manifest_sha256)
        if digests.package_sha256 != current.package_sha256:
            raise CheckFailed(f"{where} names a package that is not the one {container} holds for "
                              f"{current.version}; refusing to re-sign it")
        move = Move(container, state, current.version, current.version)
        if pointer_fmt.parse_rfc3339(current.expires_at) - time.time() <= within:
            move.pointer = new_pointer(targets, container, channel, current.version, digests, current.sequence + 1,
                                       race.started, rollback=current.rollback, promoted_from=current.promoted_from)
        return move

    try:
        with open_store(ctx.config, opts.store, ctx.correlation_id) as store:

            def read(container: str) -> ChannelState:
                return read_channel(store, container, product, channel, public)

            try:
                states = settle_all(read, targets.containers, ctx.config.get("store.fanout"))
                moves = [decide(states[c], False) for c in targets.containers]
            except B2ReleaseError as exc:
                raise nothing_changed(exc, failing) from None
            if opts.dry_run:
                return _plan(ctx, store, key, product, channel, moves, opts.purge)
            written = write_moves(ctx.state, store, moves, key, targets.cache_control, NAME, read=read, decide=decide,
                                  on_moved=AuditTrail(ctx, store, key, NAME, product, channel).moves,
                                  workers=ctx.config.get("store.fanout"))
            store_description = store.description
    except ToolError as exc:
        raise rerun_hint(exc, NAME) from None

    changed = [m for m in moves if m.pointer is not None]
    if changed:
        expires = changed[0].pointer.expires_at if changed[0].pointer else ""
        summary = (f"refreshed {product} channel {channel} in {len(changed)} of {len(moves)} containers "
                   f"(valid until {expires})")
    else:
        summary = (f"{product} channel {channel}: every pointer is valid for more than {within // 3600}h; "
                   "nothing changed")
    data = {
        "command": NAME,
        "product": product,
        "channel": channel,
        "within_s": within,
        "store": store_description,
        "containers": [{**m.to_dict(), "expires_at": (m.pointer or m.state.pointer).expires_at} for m in moves],
        "purge_queued": len(written),
    }
    if changed:
        then, done = purge_follow_up(ctx.state, opts.purge, written, data, store=opts.store,
                                 signing_key=opts.signing_key)
    else:
        then, done = [], ""
        data["purge"] = {"status": "not-run", "reason": "nothing moved"}
    return StageResult(stage=NAME, summary=summary, data=data,
                       record=RefreshRecord(product=product, channel=channel, store=store_description,
                                            containers=data["containers"]),
                       then=then, done=done)
