"""rollback: point a channel back at an older version that is already in the store.

A command, not a pipeline stage; the runner records it in state.json like a stage and
then runs the purge stage (unless --no-purge).

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
   a lost swap is resolved by reading again and deciding again (`decide` below, the rules
   of repoint.Race): a rollback overrides an upload or promote that started before it,
   yields to one that started after it, and never moves a channel forward (between two
   rollbacks the lower target wins);
4. the pointer paths are queued for the purge stage, which runs next unless --no-purge.

Which containers: rollout.resolve_scope (--tenant, --ring; the release container only with
the whole channel or --release-container). The reason is also on the audit line. --dry-run
stops before 3 and returns the plan (b2release/plan.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from b2release import log, rollout
from b2release.artifacts import RollbackRecord
from b2release.audit_trail import AuditTrail
from b2release.context import Context
from b2release.errors import B2ReleaseError, CheckFailed, ToolError, UsageError
from b2release.formats import pointer as pointer_fmt
from b2release.formats.names import compare_versions, validate_version
from b2release.planning import pointer_plan
from b2release.repoint import (
    Lost,
    Move,
    Race,
    changed_unverified,
    check_purge_settings,
    new_pointer,
    nothing_changed,
    purge_follow_up,
    rerun_hint,
    resolve_targets,
    serves,
    settle_all,
    trusted,
    write_moves,
)
from b2release.stages import StageResult, planned
from b2release.stores import open_store
from b2release.stores.channels import ChannelState, ReleaseDigests, read_channel, verify_release

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
    ring: str | None = None  # --ring NAME of [rollout] rings
    release_container: bool = False  # also move the release container with --tenant / a named ring
    dry_run: bool = False


# --- the command --------------------------------------------------------------------------
def _reason(raw: str | None) -> str:
    text = " ".join((raw or "").split())  # one line: it lands in a signed JSON document and in logs
    if not text:
        raise UsageError("rollback needs --reason TEXT: why the channel goes back (it is signed into the pointer)")
    if len(text) > MAX_REASON:
        raise UsageError(f"--reason is {len(text)} characters long; at most {MAX_REASON}")
    return text


def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    logger = log.get(NAME)
    reason = _reason(opts.reason)
    channel = pointer_fmt.validate_channel(opts.channel or ctx.config.get("store.channel"))
    if not opts.to:
        raise UsageError("rollback needs --to X.Y.Z: the older version the channel should serve")
    target = validate_version(opts.to)
    scope = rollout.resolve_scope(ctx.config, opts.tenants, opts.ring, opts.release_container)
    targets = rollout.scoped(resolve_targets(ctx, scope.tenants), scope)
    product = targets.product
    key = ctx.signing_key(opts.signing_key)
    public = key.public()
    check_purge_settings(ctx.config, opts.purge)
    if not targets.tenants:
        logger.warning("no tenants (--tenant or [store] tenants): rolling back %s only", targets.release_container)
    failing = f"cannot roll back {product} channel {channel} to {target}"

    race = Race()  # this rollback's start: its pointers are issued at this time
    releases: dict[str, ReleaseDigests] = {}

    def decide(state: ChannelState, during: bool) -> Move:
        """What to do with one container's channel as just read (docs/rollback.md, "When commands race")."""
        race.observe(state, at_start=not during)
        container, current = state.container, state.pointer
        where = f"{container}/{state.path}"
        if current is None:
            raise CheckFailed(f"{where} does not exist: channel {channel} was never uploaded there")
        if compare_versions(target, current.version) > 0:
            raise Lost(
                f"{where} serves {current.version}, lower than {target}"
                f"{' (written while this rollback ran)' if during else ''}: a rollback only goes back "
                "(to move forward use `b2release upload` or `b2release promote`)"
            )
        from_version = current.version
        if current.version == target and isinstance(current.rollback, dict):
            from_version = str(current.rollback.get("from", from_version))  # finishing an earlier run
        move = Move(container, state, from_version, target)
        if serves(state, product, channel, target, releases[container], time.time()):
            return move
        if during and not state.settled and current.rollback is None:
            raise changed_unverified(state, NAME)
        if race.forward_is_newer(current):
            raise Lost(
                f"{where} was moved to {current.version} by an upload or promote that started after this rollback: "
                f"the later decision wins; to roll back to {target} again, re-run `b2release rollback`"
            )
        if not during and not trusted(state, product, channel):
            logger.warning("%s/%s does not verify with the release key (or names another channel or "
                           "container); rewritten", container, state.path)
        move.pointer = new_pointer(targets, container, channel, target, releases[container], current.sequence + 1,
                                   race.started, rollback={"from": from_version, "reason": reason})
        return move

    try:
        with open_store(ctx.config, opts.store, ctx.correlation_id) as store:

            def read(container: str) -> ChannelState:
                return read_channel(store, container, product, channel, public)

            # 1-2. Every check, in every container, before anything is written.
            try:
                states = settle_all(read, targets.containers, ctx.config.get("store.fanout"))
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
                    releases[container] = verify_release(store, container, product, target, public)
                if len(set(releases.values())) > 1:
                    raise CheckFailed(f"{product} {target} has different manifests or packages in "
                                      f"{', '.join(sorted(releases))}: the store was changed outside b2release")
                moves = [decide(states[c], False) for c in targets.containers]
            except B2ReleaseError as exc:
                raise nothing_changed(exc, failing) from None
            trail = AuditTrail(ctx, store, key, NAME, product, channel, reason=reason, planned=opts.dry_run)
            if opts.dry_run:
                trail.moves(moves)
                dry = pointer_plan(NAME, ctx.config, moves, trail.lines, ctx.state.pending_purge, opts.purge)
                return planned(dry, product=product, channel=channel, store=store.description, **scope.to_dict())

            # 3. Tenants first, the release container last (the order of targets.containers).
            written = write_moves(ctx.state, store, moves, key, targets.cache_control, NAME, read=read, decide=decide,
                                  on_moved=trail.moves, workers=ctx.config.get("store.fanout"))
            store_description = store.description
    except ToolError as exc:
        raise rerun_hint(exc, NAME) from None

    changed = [m for m in moves if m.pointer is not None]
    # 4. The runner runs the purge stage next (the queue is saved first, so a failed purge can be re-run).
    if changed:
        froms = sorted({m.from_version for m in changed if m.from_version})
        summary = (f"rolled back {product} channel {channel} from {', '.join(froms)} to {target} in "
                   f"{len(changed)} of {len(moves)} containers (reason: {reason})")
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
        **scope.to_dict(),
    }
    then, done = purge_follow_up(ctx.state, opts.purge, written, data, store=opts.store,
                                 signing_key=opts.signing_key)
    return StageResult(
        stage=NAME,
        summary=summary,
        data=data,
        record=RollbackRecord(product=product, channel=channel, version=target, reason=reason,
                              store=store_description, containers=[m.to_dict() for m in moves]),
        then=then,
        done=done,
    )
