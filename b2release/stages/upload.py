"""upload: put a packaged release into the store, for every tenant, then move the channel.

Order (each step only starts when the previous one is complete, so a crash at any point
leaves the channel pointer on the previous, complete version; a re-run finishes the job):

1. preflight, read-only: current pointers (refuse a lower version), and every versioned
   file in every container (same sha256: already there; different bytes: refuse, exit 1,
   nothing changed);
2. the release container gets each file once (create-only, MD5-validated, chunked);
   SHA256SUMS last, so its presence means the version is complete;
3. each tenant container `tenant-<id>` gets server-side copies (create-only);
4. after checking each container holds the complete version, the signed channel pointer
   `<product>/channels/<channel>.json` (+ .sig) is written: tenants first, release last,
   each with compare-and-swap; a lost swap is resolved by reading the pointer again and
   deciding again (`decide` below, the rules of repoint.Race): still newer, write over it
   with its sequence + 1; now older (a higher version, or a rollback that started after
   this upload), stop with exit 1 and leave the other writer's pointer;
5. the pointer paths are queued in state.json `pending_purge` for the purge stage.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from b2release import log
from b2release.artifacts import RELEASE_KINDS, Kind, PackageRecord, UploadRecord
from b2release.audit_trail import AuditTrail
from b2release.cdn.tokens import versioned_cache_control
from b2release.context import Context
from b2release.errors import CheckFailed, KeyFileError, StaleInputError, ToolError, UsageError
from b2release.formats import checksums
from b2release.formats import pointer as pointer_fmt
from b2release.formats.manifest import CHECKSUMS_NAME, MANIFEST_NAME
from b2release.formats.names import compare_versions
from b2release.fsutil import sha256_file
from b2release.repoint import (
    SETTLE_AT_START_S,
    Lost,
    Move,
    Race,
    changed_unverified,
    new_pointer,
    rerun_hint,
    resolve_targets,
    serves,
    settle,
    write_moves,
)
from b2release.stages import StageResult
from b2release.stores import open_store
from b2release.stores.base import AlreadyExists, Store
from b2release.stores.channels import ChannelState, ReleaseDigests, read_channel, verify_version

NAME = "upload"
# Test-only: after this many files were uploaded to the release container, print a
# marker line on stderr and sleep, so a test can kill the process at a known point.
TEST_PAUSE_ENV = "B2RELEASE_DEBUG_PAUSE_AFTER_FILES"
TEST_PAUSE_MARKER = "b2release-test: paused"


@dataclass
class Options:
    tenants: list[str] | None = None
    channel: str | None = None
    store: str | None = None
    signing_key: Path | None = None


@dataclass(frozen=True)
class LocalFile:
    name: str
    path: Path
    sha256: str
    size: int


@dataclass
class Counters:
    bytes_sent: int = 0
    files_uploaded: int = 0
    files_present: int = 0
    copies_made: int = 0
    copies_present: int = 0
    containers_created: list[str] = field(default_factory=list)


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


# --- progress -----------------------------------------------------------------------------
class Progress:
    """A rich bar (bytes, rate, ETA) on a terminal; plain log lines otherwise."""

    def __init__(self, ctx: Context, total: int, files: int):
        self.logger = log.get(NAME)
        self.bar = None
        if ctx.interactive and ctx.verbosity >= 0 and not ctx.json_output and total > 0:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                    TransferSpeedColumn(), TimeRemainingColumn(), console=ctx.console,
                                    transient=False)
            self.task = self.bar.add_task(f"uploading {files} files", total=total)
            self.bar.start()

    def advance(self, nbytes: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=nbytes)

    def line(self, message: str, *args: Any) -> None:
        if self.bar is not None:
            self.bar.console.print(message % args, markup=False, highlight=False)
        else:
            self.logger.info(message, *args)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


# --- steps --------------------------------------------------------------------------------
def _conflict(container: str, blob_path: str, found: str | None, ours: str) -> CheckFailed:
    what = f"sha256 {found[:12]}..." if found else "no sha256 metadata"
    return CheckFailed(
        f"{container}/{blob_path} already exists with different content ({what}, ours {ours[:12]}...): "
        "versions are immutable, publish a new version; nothing was changed"
    )


def preflight(store: Store, containers: list[str], prefix: str, files: list[LocalFile]) -> dict[str, set[str]]:
    """For each container, the names already present (same sha256). Refuses any conflict."""
    present: dict[str, set[str]] = {}
    for container in containers:
        existing = {b.path: b for b in store.list(container, prefix)}
        present[container] = set()
        for f in files:
            blob = existing.get(prefix + f.name)
            if blob is None:
                continue
            if blob.sha256 != f.sha256 or blob.size != f.size:
                raise _conflict(container, prefix + f.name, blob.sha256, f.sha256)
            present[container].add(f.name)
    return present


def _test_pause(count: int) -> None:
    raw = os.environ.get(TEST_PAUSE_ENV)
    if raw and raw.isdigit() and count == int(raw):
        sys.stderr.write(f"{TEST_PAUSE_MARKER} after {count} files\n")
        sys.stderr.flush()
        time.sleep(3600)


def upload_release(store: Store, container: str, prefix: str, files: list[LocalFile], present: set[str],
                   counters: Counters, progress: Progress, cache_control: str) -> None:
    for f in files:
        if f.name in present:
            counters.files_present += 1
            progress.line("present  %s/%s%s", container, prefix, f.name)
            continue
        try:
            counters.bytes_sent += store.create_from_file(container, prefix + f.name, f.path, f.sha256,
                                                          cache_control, progress.advance)
        except AlreadyExists:
            # Someone created it since the preflight: fine if it is the same file.
            blob = store.stat(container, prefix + f.name)
            if blob is None or blob.sha256 != f.sha256:
                raise _conflict(container, prefix + f.name, blob.sha256 if blob else None, f.sha256) from None
            counters.files_present += 1
            continue
        counters.files_uploaded += 1
        progress.line("uploaded %s/%s%s (%d bytes)", container, prefix, f.name, f.size)
        _test_pause(counters.files_uploaded)


def copy_to_tenants(store: Store, source: str, tenants: list[str], prefix: str, files: list[LocalFile],
                    present: dict[str, set[str]], counters: Counters, progress: Progress, workers: int) -> None:
    """Server-side copies; per container SHA256SUMS goes last (its presence = complete)."""
    def copy(container: str, f: LocalFile) -> bool:
        try:
            store.copy_within(source, prefix + f.name, container, f.sha256)
        except AlreadyExists:
            blob = store.stat(container, prefix + f.name)
            if blob is None or blob.sha256 != f.sha256:
                raise _conflict(container, prefix + f.name, blob.sha256 if blob else None, f.sha256) from None
            return False
        progress.line("copied   %s/%s%s", container, prefix, f.name)
        return True

    def run_batch(jobs: list[tuple[str, LocalFile]]) -> None:
        counters.copies_present += sum(1 for c, f in jobs if f.name in present[c])
        todo = [(c, f) for c, f in jobs if f.name not in present[c]]
        if not todo:
            return
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(todo)))) as pool:
            futures = [pool.submit(copy, c, f) for c, f in todo]
            errors: list[BaseException] = []
            for fut in futures:
                try:
                    made = fut.result()
                except BaseException as exc:  # collect; report the first after all settle
                    errors.append(exc)
                    continue
                if made:
                    counters.copies_made += 1
                else:
                    counters.copies_present += 1
            if errors:
                raise errors[0]

    body = [f for f in files if f.name != CHECKSUMS_NAME]
    last = [f for f in files if f.name == CHECKSUMS_NAME]
    run_batch([(c, f) for c in tenants for f in body])
    run_batch([(c, f) for c in tenants for f in last])


# --- the stage ----------------------------------------------------------------------------
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
            # 1. preflight: read-only.
            channels = {c: settle(read, c, SETTLE_AT_START_S) for c in targets.containers}
            first_sequence = 1 + max((s.pointer.sequence for s in channels.values() if s.pointer is not None),
                                     default=0)
            moves = [decide(channels[c], False) for c in targets.containers]
            present = preflight(store, targets.containers, prefix, files)

            # 2-3. files: once into the release container, then server-side copies.
            for container in [release_container, *tenant_containers]:
                if store.ensure_container(container):
                    counters.containers_created.append(container)
            total = sum(f.size for f in files if f.name not in present[release_container])
            progress = Progress(ctx, total, len(files))
            try:
                upload_release(store, release_container, prefix, files, present[release_container], counters,
                               progress, versioned_cache_control(ctx.config))
                copy_to_tenants(store, release_container, tenant_containers, prefix, files, present, counters,
                                progress, config.get("store.max_concurrency"))
            finally:
                progress.stop()
            trail = AuditTrail(ctx, store, key, NAME, product, channel)
            if counters.files_uploaded or counters.copies_made:
                trail.record("upload-version", tenants=targets.tenants, version=version)

            # 4. pointers, only onto complete versions; tenants first, the release container last.
            for move in moves:
                if move.pointer is not None:
                    verify_version(store, move.container, product, version, manifest_sha256)
            # 5. the purge stage turns the queued paths into CDN URLs and clears the queue after purging.
            written = write_moves(ctx.state, store, moves, key, targets.cache_control, NAME, read=read, decide=decide,
                                  on_moved=trail.moves)
            store_description = store.description
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
    }
    moved = f"channel {channel} -> {version} (sequence {sequence})" if to_write else f"channel {channel} unchanged"
    if retries:
        moved += f" after {retries} concurrent pointer changes"
    summary = (f"uploaded {product} {version} to {store_description}: {counters.files_uploaded} files "
               f"({counters.bytes_sent} bytes) sent, {counters.files_present} already present, "
               f"{counters.copies_made} copies for {len(targets.tenants)} tenants; {moved}")
    return StageResult(
        stage=NAME,
        summary=summary,
        data=data,
        record=UploadRecord(product=product, version=version, channel=channel, sequence=sequence,
                            store=store_description, tenants=targets.tenants, release_container=release_container),
    )
