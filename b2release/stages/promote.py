"""promote: move the version one channel serves to another channel, without re-uploading.

Gradual rollout: upload to `canary` (or to a pilot ring of tenants with --tenant), watch
it, then `promote --from canary --to stable` (again per ring, with --tenant). Only the
destination channel's signed pointer is written; no versioned file is copied or sent.

A command, not a pipeline stage; the runner records it and chains the purge. Order, as in
rollback (nothing is written until every container passed every check):

1. for each container: the source channel's pointer must exist, verify with the release
   key and name that channel; its version must be complete in the container and its
   manifest must be the one the pointer names, signed by the release key;
2. the destination channel must not serve a higher version (promote never moves a
   channel down: that is `rollback`);
3. tenants first, the release container last: the destination pointer, with
   `sequence = destination's sequence + 1` (1 when new) and `promoted_from: <source>`,
   written with compare-and-swap; a container already serving that release is left alone;
   a lost swap is resolved by reading again and deciding again (the rules of repoint.Race,
   as for upload: the highest version wins, a rollback that started later wins);
4. the pointer paths are queued for purge, which runs unless --no-purge.

Which containers: rollout.resolve_scope (--tenant, --ring; the release container only with
the whole channel or --release-container). Between a gated pair of channels ([promote]
gated, e.g. staging->stable) the staging gate (verification/gate.py) runs after the checks
of 1-2 and before anything is written; a failure refuses the promote (exit 1) unless
--force --reason, which is signed into each new pointer (`override`) and written on the
audit line. --dry-run stops before 3 and returns the plan (b2release/plan.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from b2release import fanout, log, rollout
from b2release.artifacts import PromoteRecord
from b2release.audit_trail import AuditTrail
from b2release.config import parse_duration
from b2release.config.rollout import parse_pairs
from b2release.context import Context
from b2release.errors import B2ReleaseError, CheckFailed, ToolError, UsageError, VerificationError
from b2release.formats import pointer as pointer_fmt
from b2release.formats.names import compare_versions
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
from b2release.verification import gate

NAME = "promote"
MAX_REASON = 500  # signed into every pointer and the audit line: a sentence, not a file


@dataclass
class Options:
    source: str | None = None  # --from
    destination: str | None = None  # --to
    tenants: list[str] | None = None
    purge: bool = True
    store: str | None = None
    signing_key: Path | None = None
    ring: str | None = None  # --ring NAME of [rollout] rings
    release_container: bool = False  # also move the release container with --tenant / a named ring
    force: bool = False  # past a failed staging gate (needs reason)
    reason: str | None = None
    dry_run: bool = False


def _reason(opts: Options, gated: bool, pair: str) -> str | None:
    """--force --reason TEXT: one line, at most MAX_REASON characters; only where a gate is."""
    text = " ".join((opts.reason or "").split())
    if not opts.force:
        if text:
            raise UsageError("--reason goes with --force: it says why a promote overrides the staging gate")
        return None
    if not gated:
        raise UsageError(f"--force overrides the staging gate, and {pair} is not gated ([promote] gated)")
    if not text:
        raise UsageError("--force needs --reason TEXT: why the staging gate is overridden (it is signed into the "
                         "pointer and written on the audit line)")
    if len(text) > MAX_REASON:
        raise UsageError(f"--reason is {len(text)} characters long; at most {MAX_REASON}")
    return text


def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    logger = log.get(NAME)
    config = ctx.config
    if not (opts.source or config.get("promote.from")) or not (opts.destination or config.get("promote.to")):
        raise UsageError("promote needs --from CHANNEL and --to CHANNEL (e.g. --from canary --to stable), "
                         "or [promote] from / to")
    source = pointer_fmt.validate_channel(opts.source or config.get("promote.from"))
    dest = pointer_fmt.validate_channel(opts.destination or config.get("promote.to"))
    if source == dest:
        raise UsageError(f"--from and --to are both {source!r}: promote moves a release between two channels")
    gated = (source, dest) in parse_pairs(config.get("promote.gated"), "promote.gated")
    reason = _reason(opts, gated, f"{source}->{dest}")
    scope = rollout.resolve_scope(config, opts.tenants, opts.ring, opts.release_container)
    targets = rollout.scoped(resolve_targets(ctx, scope.tenants), scope)
    product = targets.product
    key = ctx.signing_key(opts.signing_key)
    public = key.public()
    check_purge_settings(config, opts.purge)
    if not targets.tenants:
        logger.warning("no tenants (--tenant or [store] tenants): promoting in %s only", targets.release_container)
    failing = f"cannot promote {product} from channel {source} to {dest}"
    report: gate.GateReport | None = None
    override: dict[str, object] | None = None

    race = Race()  # this promote's start: its pointers are issued at this time
    plan: dict[str, tuple[str, ReleaseDigests]] = {}  # container -> (version, what its pointer binds)

    def decide(state: ChannelState, during: bool) -> Move:
        """What to do with one container's destination channel as just read (docs/rollback.md)."""
        race.observe(state, at_start=not during)
        container, current = state.container, state.pointer
        version, digests = plan[container]
        where = f"{container}/{state.path}"
        if current is not None and compare_versions(current.version, version) > 0:
            raise Lost(
                f"{where} serves {current.version}, higher than {version} on {source}"
                f"{' (written while this promote ran)' if during else ''}: promote never moves a channel down "
                f"(use `b2release rollback --channel {dest} --to {version} --reason ...`)"
            )
        move = Move(container, state, current.version if current else None, version)
        if serves(state, product, dest, version, digests, time.time()):
            return move
        if during and not state.settled and current is not None and current.rollback is not None:
            raise changed_unverified(state, NAME)
        if current is not None and race.rollback_is_newer(current):
            raise Lost(
                f"{where} was rolled back to {current.version} after this promote started: a rollback is a newer "
                f"decision than a promote that started before it; to promote over it, re-run `b2release promote`"
            )
        if not during and current is not None and not trusted(state, product, dest):
            logger.warning("%s/%s does not verify with the release key (or names another channel or "
                           "container); rewritten", container, state.path)
        sequence = current.sequence + 1 if current is not None else 1
        move.pointer = new_pointer(targets, container, dest, version, digests, sequence, race.started,
                                   promoted_from=source, override=override)
        return move

    try:
        with open_store(ctx.config, opts.store, ctx.correlation_id) as store:

            def read(container: str) -> ChannelState:
                return read_channel(store, container, product, dest, public)

            # 1-2. Every check, in every container, before anything is written.
            try:
                workers = config.get("store.fanout")
                sources = dict(zip(targets.containers, fanout.each(
                    lambda c: read_channel(store, c, product, source, public), targets.containers, workers), strict=True))
                dests = settle_all(read, targets.containers, workers)
                for container in targets.containers:
                    state = sources[container]
                    where = f"{container}/{state.path}"
                    if state.pointer is None:
                        raise CheckFailed(f"{where} does not exist: channel {source} has no release in {container}")
                    if not trusted(state, product, source):
                        raise VerificationError(
                            f"{where} does not verify with the release key {public.key_id[:16]}... "
                            "(or names another channel or container); refusing to promote from it"
                        )
                    version = state.pointer.version
                    digests = verify_release(store, container, product, version, public,
                                             state.pointer.manifest_sha256)
                    if digests.package_sha256 != state.pointer.package_sha256:
                        raise VerificationError(f"{where} names a package that is not the one {container} holds "
                                                f"for {version}; refusing to promote from it")
                    plan[container] = (version, digests)
                if gated:  # after the store's own checks: what it verified is what the gate downloads
                    report = gate.check(store, config, pair=(source, dest), product=product,
                                        pointers={c: sources[c].pointer for c in targets.containers}, public=public,
                                        now=race.started, min_soak_s=parse_duration(config.get("promote.min_soak"),
                                                                                    "promote.min_soak"))
                    if report.failures and reason is None:
                        raise CheckFailed(f"the staging gate ({report.pair}) failed: {report.message()} "
                                          "(--force --reason TEXT overrides)", details=report.to_dict())
                    if reason is not None:
                        override = {"reason": reason, "checks": report.failed_checks}
                        logger.warning("staging gate %s overridden (%s): %s", report.pair,
                                       ", ".join(report.failed_checks) or "every check passed", reason)
                moves = [decide(dests[c], False) for c in targets.containers]
            except B2ReleaseError as exc:
                raise nothing_changed(exc, failing) from None
            trail = AuditTrail(ctx, store, key, NAME, product, dest, reason=reason, planned=opts.dry_run)
            if opts.dry_run:
                notes = [] if report is None else [f"staging gate {report.pair}: " + (
                    f"overridden ({reason})" if override else "passed")]
                trail.moves(moves)
                dry = pointer_plan(NAME, config, moves, trail.lines, ctx.state.pending_purge, opts.purge, notes)
                return planned(dry, product=product, channel=dest, store=store.description,
                               gate=report.to_dict() if report else None, **scope.to_dict())

            now = time.time()
            for container in targets.containers:
                src_pointer = sources[container].pointer
                if pointer_fmt.parse_rfc3339(src_pointer.expires_at) <= now:
                    logger.warning("%s/%s expired at %s; promoting its version %s anyway", container,
                                   sources[container].path, src_pointer.expires_at, src_pointer.version)

            # 3. Tenants first, the release container last.
            written = write_moves(ctx.state, store, moves, key, targets.cache_control, NAME, read=read, decide=decide,
                                  on_moved=trail.moves, workers=workers)
            store_description = store.description
    except ToolError as exc:
        raise rerun_hint(exc, NAME) from None

    changed = [m for m in moves if m.pointer is not None]
    versions = sorted({m.to_version for m in moves})
    if changed:
        summary = (f"promoted {product} {', '.join(versions)} from channel {source} to {dest} in {len(changed)} of "
                   f"{len(moves)} containers (no files uploaded)")
    else:
        summary = f"{product} channel {dest} already serves what {source} serves in every container; nothing changed"
    data = {
        "command": NAME,
        "product": product,
        "from_channel": source,
        "to_channel": dest,
        "versions": versions,
        "store": store_description,
        "tenants": targets.tenants,
        "containers": [m.to_dict() for m in moves],
        "bytes_sent": 0,  # by design: a promotion writes pointers only
        "purge_queued": len(written),
        **scope.to_dict(),
        "gate": report.to_dict() if report else None,
        "override": override,
    }
    then, done = purge_follow_up(ctx.state, opts.purge, written, data, store=opts.store,
                                 signing_key=opts.signing_key)
    return StageResult(
        stage=NAME,
        summary=summary,
        data=data,
        record=PromoteRecord(product=product, from_channel=source, to_channel=dest, versions=versions,
                             store=store_description, containers=[m.to_dict() for m in moves]),
        then=then,
        done=done,
    )
