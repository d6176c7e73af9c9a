"""Where `audit downloads` finds Azure Storage's request logs: local files, or the log containers of a store.

- Resource logs (diagnostic setting, category StorageRead): container `insights-logs-storageread`,
  blobs `.../y=YYYY/m=MM/d=DD/h=hh/m=00/PT1H.json`, one blob per hour.
- Classic Storage Analytics logs: container `$logs`, blobs `blob/YYYY/MM/DD/hhmm/nnnnnn.log`.

Blobs are chosen by the hour in their name, so `--since` does not download the whole
history: a blob is read when its hour ends after the start of the period (the requests
before it inside that hour are then left out by the report). A blob whose name carries no
time is read. From an Azure store each chosen blob is downloaded into a temp dir we own
(same relative path), then parsed like a local file; a `file://` store is read in place
(its containers are folders).
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from b2release.accesslogs.model import ParseProblem, Request
from b2release.stores import Store
from b2release.stores.local import LocalStore

RESOURCE_CONTAINER = "insights-logs-storageread"
CLASSIC_CONTAINER = "$logs"
CLASSIC_PREFIX = "blob/"  # the blob service's logs (queue/ and table/ are other services)
MAX_LOG_BLOB = 512 << 20  # one hour of one account's reads: far beyond this is not a log blob

_RESOURCE_HOUR = re.compile(r"(?:^|/)y=(\d{4})/m=(\d{2})/d=(\d{2})/h=(\d{2})/")
_CLASSIC_HOUR = re.compile(r"^blob/(\d{4})/(\d{2})/(\d{2})/(\d{2})\d{2}/")
HOUR = _dt.timedelta(hours=1)


def blob_hour(name: str) -> _dt.datetime | None:
    """The UTC hour a log blob covers, from its name (either layout), or None."""
    match = _RESOURCE_HOUR.search(name) or _CLASSIC_HOUR.search(name)
    if not match:
        return None
    year, month, day, hour = (int(g) for g in match.groups())
    try:
        return _dt.datetime(year, month, day, hour, tzinfo=_dt.timezone.utc)
    except ValueError:
        return None


def wanted(name: str, since: _dt.datetime | None) -> bool:
    hour = blob_hour(name)
    return since is None or hour is None or hour + HOUR > since


@dataclass
class LogFiles:
    """The files to parse, and how to name them in the report (`container/blob`, not our temp path)."""

    paths: list[Path]
    rename: dict[str, str]  # local path prefix -> shown prefix
    blobs: int = 0
    skipped: int = 0  # blobs outside the period (not downloaded)
    where: str = ""

    def shown(self, items: Iterator[Request | ParseProblem]) -> Iterator[Request | ParseProblem]:
        """Items with their `source` (file:line) naming the blob instead of the temp copy."""
        if not self.rename:
            yield from items
            return
        pairs = sorted(self.rename.items(), key=lambda kv: -len(kv[0]))
        for item in items:
            for local, shown in pairs:
                if item.source.startswith(local):
                    item = replace(item, source=shown + item.source[len(local):])
                    break
            yield item


def _local_container(root: Path, container: str, prefix: str, since: _dt.datetime | None, files: LogFiles) -> None:
    base = root / container
    if not base.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(base).as_posix()
            if not rel.startswith(prefix):
                continue
            files.blobs += 1
            if wanted(rel, since):
                files.paths.append(path)
            else:
                files.skipped += 1


def _azure_container(store: Store, container: str, prefix: str, since: _dt.datetime | None, tmp: Path,
                     files: LogFiles) -> None:
    for blob in store.list(container, prefix):
        files.blobs += 1
        if not wanted(blob.path, since):
            files.skipped += 1
            continue
        found = store.read_bytes(container, blob.path, MAX_LOG_BLOB)
        if found is None:  # removed by a lifecycle rule since the listing
            continue
        dest = tmp / container / blob.path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(found[0])
        files.paths.append(dest)


def from_store(store: Store, since: _dt.datetime | None, tmp: Path) -> LogFiles:
    """The log blobs of both containers of `store` that may hold requests after `since`."""
    files = LogFiles([], {}, where=store.description)
    for container, prefix in ((RESOURCE_CONTAINER, ""), (CLASSIC_CONTAINER, CLASSIC_PREFIX)):
        if isinstance(store, LocalStore):
            # A mirror of the log containers on disk: folders, read in place ($logs is no valid
            # name for b2release's own containers, so the store's container checks are bypassed).
            _local_container(store.root, container, prefix, since, files)
            files.rename[str(store.root) + os.sep] = ""
        else:
            _azure_container(store, container, prefix, since, tmp, files)
            files.rename[str(tmp) + os.sep] = ""
    return files
