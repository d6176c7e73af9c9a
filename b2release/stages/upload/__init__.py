"""upload: put a packaged release into the store, for every tenant, then move the channel.

Order (each step only starts when the previous one is complete, so a crash at any point
leaves the channel pointer on the previous, complete version; a re-run finishes the job):

1. preflight, read-only: every versioned file in every container (same sha256: already
   there; different bytes: refuse, exit 1, nothing changed; no container: a new tenant),
   and the current pointers of the containers that exist (refuse a lower version);
2. the release container gets each file once (create-only, MD5-validated, chunked),
   smallest first; SHA256SUMS last, so its presence means the version is complete;
3. each tenant container `tenant-<id>` gets server-side copies (create-only) of each
   file as soon as it is in the release container, while the next one is sent (the
   copies of a release's small files run while its package is uploaded); SHA256SUMS
   last, after every other copy; `[store] fanout` containers at once;
4. once each container holds the complete version (by construction: every file was
   listed with its sha256 in step 1 or created, create-only and checked, in 2-3), the
   signed channel pointer
   `<product>/channels/<channel>.json` (+ .sig) is written: tenants first, release last,
   each with compare-and-swap; a lost swap is resolved by reading the pointer again and
   deciding again (`decide` below, the rules of repoint.Race): still newer, write over it
   with its sequence + 1; now older (a higher version, or a rollback that started after
   this upload), stop with exit 1 and leave the other writer's pointer;
5. the pointer paths are queued in state.json `pending_purge` for the purge stage.

`--dry-run` runs step 1 and the pointer decisions, then returns the plan of steps 2-5
(`_plan`) instead of doing them. The transfers themselves are in transfer.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from b2release import cdn, log
from b2release.artifacts import RELEASE_KINDS, Kind, PackageRecord, UploadRecord
from b2release.audit_trail import AuditTrail
from b2release.cdn.tokens import versioned_cache_control
from b2release.config import Config
from b2release.context import Context
from b2release.errors import KeyFileError, StaleInputError, ToolError, UsageError
from b2release.formats import checksums
from b2release.formats import pointer as pointer_fmt
from b2release.formats.manifest import CHECKSUMS_NAME, MANIFEST_NAME
from b2release.formats.names import compare_versions
from b2release.formats.signature import SigningKey
from b2release.fsutil import sha256_file
from b2release.plan import Copy, FileSend, Plan
from b2release.planning import pointer_changes, queued_paths, unchanged
from b2release.repoint import (
    Lost,
    Move,
    Race,
    Targets,
    changed_unverified,
    new_pointer,
    rerun_hint,
    resolve_targets,
    serves,
    settle_all,
    write_moves,
)
from b2release.stages import StageResult, planned
from b2release.stages.upload.transfer import (
    TEST_PAUSE_ENV,
    TEST_PAUSE_MARKER,
    Counters,
    LocalFile,
    Progress,
    Transfer,
    preflight,
    upload_order,
)
from b2release.stores import open_store
from b2release.stores.base import Store
from b2release.stores.channels import ChannelState, ReleaseDigests, read_channel

__all__ = ["NAME", "TEST_PAUSE_ENV", "TEST_PAUSE_MARKER", "Options", "release_files", "run"]

NAME = "upload"

@dataclass
class Options:
    tenants: list[str] | None = None
    channel: str | None = None
    store: str | None = None
    signing_key: Path | None = None
    dry_run: bool = False  # resolve and read everything, change nothing: return the plan (b2release/plan.py)


# --- inputs -------------------------------------------------------------------------------
def release_files(ctx: Context) -> tuple[PackageRecord, list[LocalFile]]:
    """The package stage's outputs: every file SHA256SUMS lists, then SHA256SUMS itself."""
    package = PackageRecord.read(ctx.state)
    if package is None:
        raise UsageError("nothing to upload: run `b2release package` first (in this work dir)")
    # consume re-hashes each recorded file and refuses one changed since packaging; keep
    # those digests so no file is hashed a second time below.
    verified = {
        ctx.state.abs(art.path).resolve(): (art.sha256, art.size)
        for kind in RELEASE_KINDS for art in ctx.state.consume(kind)
    }

    def digest_of(path: Path) -> tuple[str, int]:
        return verified.get(path.resolve()) or sha256_file(path)

    recorded = ctx.state.find(Kind.CHECKSUMS)
    if not recorded:
        raise UsageError(f"nothing to upload: the package stage recorded no {CHECKSUMS_NAME}; re-run package")
    sums_path = ctx.state.abs(recorded[-1].path)
    sums = checksums.parse(sums_path.read_bytes(), str(sums_path))
    files: list[LocalFile] = []
    for name, digest in sorted(sums.items()):
        path = sums_path.parent / name
        if not path.is_file():
            raise StaleInputError(f"{path} is listed in {sums_path} but missing; re-run package")
        actual, size = digest_of(path)
        if actual != digest:
            raise StaleInputError(f"{path} does not match {sums_path}; re-run package")
        files.append(LocalFile(name, path, actual, size))
    if package.package not in sums or sums.get(MANIFEST_NAME) != package.manifest_sha256:
        raise StaleInputError(f"{sums_path} does not describe the last package run; re-run package")
    digest, size = digest_of(sums_path)
    files.append(LocalFile(CHECKSUMS_NAME, sums_path, digest, size))  # last, by design
    return package, files


# --- the stage ----------------------------------------------------------------------------
def _plan(ctx: Context, store: Store, targets: Targets, package: PackageRecord, channel: str, key: SigningKey,
          files: list[LocalFile], present: dict[str, set[str]], missing: set[str], moves: list[Move]) -> StageResult:
    """--dry-run: what steps 2-5 would do after the same preflight and the same decisions."""
    release, tenant_containers = targets.release_container, targets.containers[:-1]
    plan = Plan(NAME)
    plan.containers_to_create = [c for c in [release, *tenant_containers] if c in missing]
    ordered = upload_order(files)
    plan.files = [FileSend(f.name, f.size, release) for f in ordered if f.name not in present[release]]
    # In the order Transfer.run starts them: each file's after it is sent, SHA256SUMS last.
    plan.copies = [Copy(f.name, f.size, release, c) for f in ordered for c in tenant_containers
                   if f.name not in present[c]]
    trail = AuditTrail(ctx, store, key, NAME, package.product, channel, planned=True)
    if plan.files or plan.copies:
        trail.record("upload-version", tenants=targets.tenants, version=package.version)
    trail.moves(moves)
    plan.pointer_moves, plan.audit_lines = pointer_changes(moves), trail.lines
    if left := unchanged(moves):
        plan.notes.append(f"channel {channel} already serves {package.version} in {', '.join(left)}: left alone")
    if plan.pointer_moves:
        plan.notes.append("pointer sequences are what this upload would write if no other writer moves the channel "
                          "first")
    return planned(plan, product=package.product, version=package.version, channel=channel,
                   store=store.description, tenants=targets.tenants, purge_queue=queued_paths(plan.pointer_moves))


def package_urls(config: Config, store: Store, targets: Targets, path: str) -> dict[str, str]:
    """Where each tenant downloads the package: its public CDN URL when a CDN is configured,
    else the store's own location (no credential; `b2release grant` makes a signed one)."""
    base = config.get("cdn.base_url") if cdn.provider_name(config) != "none" else ""
    # targets.containers: the tenants' containers in the tenants' order, then the release container
    return {tenant: cdn.public_url(base, container, path) if base else store.location(container, path)
            for tenant, container in zip(targets.tenants, targets.containers, strict=False)}


def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    config = ctx.config
    channel = pointer_fmt.validate_channel(opts.channel or config.get("store.channel"))
    package, files = release_files(ctx)
    targets = resolve_targets(ctx, opts.tenants, product=package.product)
    product, version, manifest_sha256 = package.product, package.version, package.manifest_sha256
    package_sha256 = next(f.sha256 for f in files if f.name == package.package)
    key = ctx.signing_key(opts.signing_key)
    if package.key_id and key.key_id != package.key_id:
        raise KeyFileError(
            f"signing key {key.path} ({key.key_id[:16]}...) is not the key that signed the manifest "
            f"({package.key_id[:16]}...); clients verify both with one public key"
        )
    public = key.public()
    release_container = targets.release_container
    tenant_containers = targets.containers[:-1]
    prefix = f"{product}/{version}/"
    logger = log.get(NAME)
    if not targets.tenants:
        logger.warning("no tenants (--tenant or [store] tenants): uploading to %s only", release_container)

    counters = Counters()
    race = Race()  # this upload's start: its pointers are issued at this time
    digests = ReleaseDigests(manifest_sha256, package_sha256)
    first_sequence = 1  # for a container without a pointer yet: continues the channel's sequence

    def decide(state: ChannelState, during: bool) -> Move:
        """What to do with one container's channel as just read (docs/rollback.md, "When commands race")."""
        race.observe(state, at_start=not during)
        current = state.pointer
        where = f"{state.container}/{state.path}"
        from_version = current.version if current is not None else None
        tail = (f"; {version} is stored complete, but this upload leaves that channel alone" if during
                else "; nothing was changed")
        if current is not None and compare_versions(current.version, version) > 0:
            raise Lost(f"{where} serves {current.version}, newer than {version}"
                       f"{' (written while this upload ran)' if during else ''}: upload never moves a channel "
                       f"to a lower version (use `b2release rollback`){tail}")
        if serves(state, product, channel, version, digests, time.time()):
            return Move(state.container, state, from_version, version)
        if during and not state.settled and current.rollback is not None:  # a claim to a newer decision: unproven
            raise changed_unverified(state, NAME)
        if current is not None and race.rollback_is_newer(current):
            reason = (current.rollback or {}).get("reason", "")
            raise Lost(f"{where} was rolled back to {current.version} after this upload started (reason: {reason}): "
                       f"a rollback is a newer decision than an upload that started before it{tail}; to publish "
                       f"{version} over the rollback, re-run `b2release upload`")
        sequence = current.sequence + 1 if current is not None else first_sequence
        return Move(state.container, state, from_version, version,
                    new_pointer(targets, state.container, channel, version, digests, sequence, race.started))

    def read(container: str) -> ChannelState:
        return read_channel(store, container, product, channel, public)

    try:
        with open_store(config, opts.store, ctx.correlation_id) as store:
            # 1. preflight: read-only. A container that does not exist yet has no channel to read.
            workers = config.get("store.fanout")
            present, missing = preflight(store, targets.containers, prefix, files, workers)
            found = [c for c in targets.containers if c not in missing]
            channels = {c: ChannelState(container=c, path=pointer_fmt.pointer_path(product, channel))
                        for c in missing}
            channels.update(settle_all(read, found, workers))
            first_sequence = 1 + max((s.pointer.sequence for s in channels.values() if s.pointer is not None),
                                     default=0)
            moves = [decide(channels[c], False) for c in targets.containers]
            if opts.dry_run:
                return _plan(ctx, store, targets, package, channel, key, files, present, missing, moves)

            # 2-3. files: once into the release container, then server-side copies, each file's
            # as soon as it is there (transfer.py). The release container is created first if
            # the preflight did not find it, the tenants' along the way.
            if release_container in missing and store.ensure_container(release_container):
                counters.containers_created.append(release_container)
            total = sum(f.size for f in files if f.name not in present[release_container])
            progress = Progress(ctx, total, len(files))
            try:
                Transfer(store, release_container, tenant_containers, [c for c in tenant_containers if c in missing],
                         prefix, present, counters, progress, versioned_cache_control(ctx.config), workers).run(files)
            finally:
                progress.stop()
            trail = AuditTrail(ctx, store, key, NAME, product, channel)
            if counters.files_uploaded or counters.copies_made:
                trail.record("upload-version", tenants=targets.tenants, version=version)

            # 4. pointers, only onto complete versions: here complete by construction (every file
            # was listed with its sha256 by the preflight, or created by this run, create-only and
            # checked; SHA256SUMS last); tenants first, the release container last.
            # 5. the purge stage turns the queued paths into CDN URLs and clears the queue after purging.
            written = write_moves(ctx.state, store, moves, key, targets.cache_control, NAME, read=read, decide=decide,
                                  on_moved=trail.moves, workers=workers)
            store_description = store.description
            urls = package_urls(config, store, targets, prefix + package.package)
    except ToolError as exc:
        raise rerun_hint(exc, NAME) from None

    for state in channels.values():
        if state.pointer is not None and state.verified is False:
            logger.warning("%s/%s did not verify with the release key; rewritten", state.container, state.path)
    to_write = [m.container for m in moves if m.pointer is not None]
    sequences = {m.container: m.sequence for m in moves}
    sequence = max((q for q in sequences.values() if q is not None), default=0)
    retries = sum(m.retries for m in moves)
    pointer_doc = {"version": version, "sequence": sequence, "channel": channel,
                   "path": pointer_fmt.pointer_path(product, channel),
                   "written_to": to_write, "unchanged": [c for c in targets.containers if c not in to_write],
                   "sequences": sequences, "retries": retries}
    data = {
        "product": product,
        "version": version,
        "store": store_description,
        "release_container": release_container,
        "tenants": targets.tenants,
        "containers_created": counters.containers_created,
        "bytes_sent": counters.bytes_sent,
        "files_uploaded": counters.files_uploaded,
        "files_present": counters.files_present,
        "copies_made": counters.copies_made,
        "copies_present": counters.copies_present,
        "pointer": pointer_doc,
        "purge_queued": len(written),
        "package_urls": urls,
    }
    moved = f"channel {channel} -> {version} (sequence {sequence})" if to_write else f"channel {channel} unchanged"
    if retries:
        moved += f" after {retries} concurrent pointer changes"
    if counters.files_uploaded or counters.copies_made:
        summary = (f"uploaded {product} {version} to {store_description}: {counters.files_uploaded} files "
                   f"({counters.bytes_sent} bytes) sent, {counters.files_present} already present, "
                   f"{counters.copies_made} copies for {len(targets.tenants)} tenants; {moved}")
    else:  # a re-run: say so rather than "0 files (0 bytes) sent"
        summary = (f"{product} {version} already complete in {store_description} for {len(targets.tenants)} "
                   f"tenants, nothing sent; {moved}")
    return StageResult(
        stage=NAME,
        summary=summary,
        data=data,
        record=UploadRecord(product=product, version=version, channel=channel, sequence=sequence,
                            store=store_description, tenants=targets.tenants, release_container=release_container),
    )
