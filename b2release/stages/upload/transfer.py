"""upload's transfers: which files each container already holds, sending them, copying them.

Split from the stage (stages/upload/__init__.py) so that the stage reads as the order of
its steps; nothing here reads config or state.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from b2release import fanout, log
from b2release.context import Context
from b2release.errors import CheckFailed
from b2release.formats.manifest import CHECKSUMS_NAME
from b2release.stores.base import AlreadyExists, Store

NAME = "upload"
# Test-only: after this many files were uploaded to the release container, print a
# marker line on stderr and sleep, so a test can kill the process at a known point.
TEST_PAUSE_ENV = "B2RELEASE_DEBUG_PAUSE_AFTER_FILES"
TEST_PAUSE_MARKER = "b2release-test: paused"


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
    do not exist yet (one listing tells both). Refuses any conflict."""
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

    found = dict(zip(containers, fanout.each(present_in, containers, workers), strict=True))
    return {c: p or set() for c, p in found.items()}, {c for c, p in found.items() if p is None}


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
            progress.line("present  %s", store.location(container, prefix + f.name))
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
        progress.line("uploaded %s (%d bytes)", store.location(container, prefix + f.name), f.size)
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
        # One line per copy is one line per tenant and file: -v only (the result line counts them).
        progress.logger.debug("copied   %s", store.location(container, prefix + f.name))
        return True

    def run_batch(jobs: list[tuple[str, LocalFile]]) -> None:
        counters.copies_present += sum(1 for c, f in jobs if f.name in present[c])
        todo = [(c, f) for c, f in jobs if f.name not in present[c]]
        if not todo:
            return
        failure: BaseException | None = None
        for outcome in fanout.settle_all(lambda job: copy(*job), todo, workers):  # all settle, then the first error
            if outcome.error is not None:
                failure = failure or outcome.error
            elif outcome.value:
                counters.copies_made += 1
            else:
                counters.copies_present += 1
        if failure is not None:
            raise failure

    body = [f for f in files if f.name != CHECKSUMS_NAME]
    last = [f for f in files if f.name == CHECKSUMS_NAME]
    run_batch([(c, f) for c in tenants for f in body])
    run_batch([(c, f) for c in tenants for f in last])


