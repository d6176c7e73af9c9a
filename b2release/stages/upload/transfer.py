"""upload's transfers: which files each container already holds, sending them, copying them.

Split from the stage (stages/upload/__init__.py) so that the stage reads as the order of
its steps; nothing here reads config or state.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from b2release import fanout, log
from b2release.context import Context
from b2release.errors import CheckFailed
from b2release.formats.manifest import CHECKSUMS_NAME
from b2release.stores.base import AlreadyExists, Store
from b2release.stores.tenants import TENANT_PREFIX

NAME = "upload"
# Test-only: after this many files were uploaded to the release container, print a
# marker line on stderr and sleep, so a test can kill the process at a known point.
TEST_PAUSE_ENV = "B2RELEASE_DEBUG_PAUSE_AFTER_FILES"
TEST_PAUSE_MARKER = "b2release-test: paused"
# The preflight lists the tenants' container names at once when there are at most this many
# per tenant uploaded to (one page, one request); a name costs a few hundredths of what
# listing one container does.
NAMES_PER_TENANT = 20


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


def preflight(store: Store, containers: list[str], prefix: str, files: list[LocalFile],
              workers: int = 1) -> tuple[dict[str, set[str]], set[str]]:
    """For each container, the names already present (same sha256); and the containers that
    do not exist yet. Refuses any conflict. One listing of the tenants' container names
    spares a request per new tenant; only the containers that exist are listed one by one
    (each of those listings also tells whether it still exists)."""
    def present_in(container: str) -> set[str] | None:
        listing = store.list_existing(container, prefix)
        if listing is None:
            return None
        existing = {b.path: b for b in listing}
        present = set()
        for f in files:
            blob = existing.get(prefix + f.name)
            if blob is None:
                continue
            if blob.sha256 != f.sha256 or blob.size != f.size:
                raise _conflict(container, prefix + f.name, blob.sha256, f.sha256)
            present.add(f.name)
        return present

    tenants = [c for c in containers if c.startswith(TENANT_PREFIX)]
    known = (store.containers_starting_with(os.path.commonprefix(tenants), NAMES_PER_TENANT * len(tenants))
             if len(tenants) > 1 else None)
    to_list = [c for c in containers if known is None or c not in tenants or c in known]
    found = dict(zip(to_list, fanout.each(present_in, to_list, workers), strict=True))
    return {c: found.get(c) or set() for c in containers}, {c for c in containers if found.get(c) is None}


def _test_pause(count: int) -> None:
    raw = os.environ.get(TEST_PAUSE_ENV)
    if raw and raw.isdigit() and count == int(raw):
        sys.stderr.write(f"{TEST_PAUSE_MARKER} after {count} files\n")
        sys.stderr.flush()
        time.sleep(3600)


def upload_order(files: list[LocalFile]) -> list[LocalFile]:
    """The order files go into the release container: smallest first, so their copies to the
    tenants run while the larger ones are still being sent; SHA256SUMS last (its presence
    means the version is complete)."""
    body = sorted((f for f in files if f.name != CHECKSUMS_NAME), key=lambda f: (f.size, f.name))
    return body + [f for f in files if f.name == CHECKSUMS_NAME]


@dataclass
class Transfer:
    """What steps 2-3 of an upload work on: the release container and the tenants'."""
    store: Store
    release: str
    tenants: list[str]
    new_tenants: list[str]  # tenant containers the preflight did not find: created here
    prefix: str
    present: dict[str, set[str]]  # per container, the names already there (preflight)
    counters: Counters
    progress: Progress
    cache_control: str
    workers: int

    def send(self, f: LocalFile) -> None:
        """One file into the release container, create-only."""
        store, container, path = self.store, self.release, self.prefix + f.name
        if f.name in self.present[container]:
            self.counters.files_present += 1
            self.progress.line("present  %s", store.location(container, path))
            return
        try:
            self.counters.bytes_sent += store.create_from_file(container, path, f.path, f.sha256,
                                                               self.cache_control, self.progress.advance)
        except AlreadyExists:
            # Someone created it since the preflight: fine if it is the same file.
            blob = store.stat(container, path)
            if blob is None or blob.sha256 != f.sha256:
                raise _conflict(container, path, blob.sha256 if blob else None, f.sha256) from None
            self.counters.files_present += 1
            return
        self.counters.files_uploaded += 1
        self.progress.line("uploaded %s (%d bytes)", store.location(container, path), f.size)
        _test_pause(self.counters.files_uploaded)

    def copy(self, container: str, f: LocalFile) -> bool:
        """A server-side copy from the release container; False: it was there already."""
        path = self.prefix + f.name
        if f.name in self.present[container]:
            return False
        try:
            self.store.copy_within(self.release, path, container, f.sha256, f.size)
        except AlreadyExists:
            blob = self.store.stat(container, path)
            if blob is None or blob.sha256 != f.sha256:
                raise _conflict(container, path, blob.sha256 if blob else None, f.sha256) from None
            return False
        # One line per copy is one line per tenant and file: -v only (the result line counts them).
        self.progress.logger.debug("copied   %s", self.store.location(container, path))
        return True

    def run(self, files: list[LocalFile]) -> None:
        """Every file into the release container (this thread, in upload_order), each one's
        tenant copies started as soon as it is there (`workers` at a time, each after its
        tenant's container is created); a tenant's SHA256SUMS copy once every other copy
        there settled. On a failure nothing new is started, what runs is awaited, and the
        first error (in the order started) is raised."""
        ordered = upload_order(files)
        body = [f for f in ordered if f.name != CHECKSUMS_NAME]
        sums = [f for f in ordered if f.name == CHECKSUMS_NAME]
        jobs: list[Future[bool | None]] = []
        with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
            created = {c: pool.submit(self.store.ensure_container, c) for c in self.new_tenants}
            made_first = {c: [created[c]] if c in created else [] for c in self.tenants}
            before = {c: list(waits) for c, waits in made_first.items()}  # per tenant, what its SHA256SUMS waits for

            def copy_after(container: str, f: LocalFile, waits: list[Future[Any]]) -> bool | None:
                # What it waits for was submitted earlier: running or done, never still queued.
                if any(w.exception() is not None for w in waits):
                    return None  # not tried: that error is reported once, by its own job
                return self.copy(container, f)

            try:
                for f in body:
                    self.send(f)
                    started = {c: pool.submit(copy_after, c, f, made_first[c]) for c in self.tenants}
                    for c, future in started.items():
                        before[c].append(future)
                    jobs += started.values()
                for f in sums:
                    self.send(f)
                    # SHA256SUMS last in every tenant container: its presence means the version is complete.
                    jobs += [pool.submit(copy_after, c, f, before[c]) for c in self.tenants]
                wait([*created.values(), *jobs])
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        failure = next((e for e in (future.exception() for future in created.values()) if e is not None), None)
        self.counters.containers_created += [c for c, future in created.items()
                                             if future.exception() is None and future.result()]
        self._settle(failure, [(job.exception(), job.result() if job.exception() is None else None) for job in jobs])

    def _settle(self, failure: BaseException | None, outcomes: list[tuple[BaseException | None, bool | None]]
                ) -> None:
        """Count settled copies (made, present; None: not tried); raise the first error (a
        container's creation first)."""
        for error, made in outcomes:
            if error is not None:
                failure = failure or error
            elif made is True:
                self.counters.copies_made += 1
            elif made is False:
                self.counters.copies_present += 1
        if failure is not None:
            raise failure
