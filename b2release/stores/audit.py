"""The release audit log in a store: append a record, read the log (formats/auditlog.py has the format).

The log is `audit/<yyyy>/<mm>.jsonl` in the release container. `append_audit` runs the
protocol of formats/auditlog.py: read the latest month blob, let `plan_append` compute the
line(s), write them conditionally, and on a lost race (someone appended first) read again
and recompute: the record stays, `prev` and `seq` follow the new tail.

An append is a compare-and-swap of the whole month blob (`write_bytes` with If-Match on the
ETag just read), the variant the protocol allows besides Azure append blobs. It needs
nothing but the store interface, so the folder store and Azure behave alike, and a month
of release operations (hundreds of lines) is small enough to rewrite. A new month's blob is
created with If-None-Match: * so two writers cannot both start it.

Called through b2release/audit_trail.py by every command that changes the store or the CDN.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable

from b2release.errors import RemoteError
from b2release.formats.auditchain import chain_files
from b2release.formats.auditlog import AUDIT_PREFIX, AuditRecord, plan_append
from b2release.formats.signature import SigningKey
from b2release.stores.base import PreconditionFailed, Store

AUDIT_CACHE_CONTROL = "no-store"  # the log changes with every append: no cache may keep it
MAX_AUDIT_BLOB = 64 << 20  # one month of release operations is far below this
MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class Tail:
    """The latest month blob as read: its name, content and the ETag a conditional write needs."""

    name: str
    content: bytes
    etag: str


def audit_blobs(store: Store, container: str) -> list[str]:
    """The month blobs of the log, oldest first (anything else under audit/ is ignored)."""
    return chain_files([blob.path for blob in store.list(container, AUDIT_PREFIX)])


def read_tail(store: Store, container: str) -> Tail | None:
    names = audit_blobs(store, container)
    if not names:
        return None
    found = store.read_bytes(container, names[-1], MAX_AUDIT_BLOB)
    if found is None:  # removed between the listing and the read: the caller reads again
        raise PreconditionFailed(f"{container}/{names[-1]}")
    data, info = found
    return Tail(names[-1], data, info.etag)


def read_log(store: Store, container: str) -> list[tuple[str, bytes]]:
    """Every month blob's (name, content), oldest first: what `auditchain.verify_chain` takes."""
    out = []
    for name in audit_blobs(store, container):
        found = store.read_bytes(container, name, MAX_AUDIT_BLOB)
        if found is not None:
            out.append((name, found[0]))
    return out


def _write(store: Store, container: str, tail: Tail | None, record: AuditRecord, key: SigningKey,
           seal_actor: str | None) -> list[str]:
    steps = plan_append((tail.name, tail.content) if tail else None, record, key, seal_actor=seal_actor)
    written: list[str] = []
    for step in steps:
        if step.create:
            store.write_bytes(container, step.blob, step.line, AUDIT_CACHE_CONTROL, if_none_match=True)
        else:
            assert tail is not None and step.blob == tail.name and step.append_pos == len(tail.content)
            # The append position is the length read; the ETag proves nothing was appended since.
            info = store.write_bytes(container, step.blob, tail.content + step.line, AUDIT_CACHE_CONTROL,
                                     if_match=tail.etag)
            tail = Tail(tail.name, tail.content + step.line, info.etag)
        written.append(step.blob)
    return written


def append_audit(store: Store, record: AuditRecord, key: SigningKey, *, container: str,
                 seal_actor: str | None = None, attempts: int = MAX_ATTEMPTS,
                 sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Append `record` to the audit log in `container`, signed by `key`; returns the blobs written.

    A lost race (PreconditionFailed) is retried from a fresh read, with a short random
    backoff so racing writers spread out; after `attempts` lost races: RemoteError.
    """
    record.check()
    for attempt in range(attempts):
        try:
            return _write(store, container, read_tail(store, container), record, key, seal_actor)
        except PreconditionFailed:
            sleep(random.uniform(0.05, 0.2) * (attempt + 1))
    raise RemoteError(f"could not append to the audit log in {container}: {attempts} attempts lost a race with "
                      "other writers; run the command again")
