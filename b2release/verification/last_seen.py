"""`verify --remote --last-seen FILE`: the channel pointers a client accepted so far.

Rollback protection needs memory: a client refuses a pointer whose sequence is lower than
the last one it accepted *for that place*. Entries are keyed by store host, container,
product and channel (`host/container/product/channel`), so one tenant's pointer never
raises or lowers another tenant's record.

The file is JSON, written atomically (temp file + rename) while holding an exclusive lock
on `FILE.lock`, after re-reading it under that lock: two runs at once can neither lose an
entry nor lower a sequence (the higher one wins). A missing file means "none yet" (first
use); an unreadable one is refused rather than reset, because resetting it would silently
disable the protection. The file's folder is checked for writing before anything is
downloaded, so a verification never succeeds only to fail at recording it.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from b2release.errors import InputError
from b2release.fsutil import atomic_write_bytes

LAST_SEEN_FORMAT = "b2release-last-seen/1"


def key_for(host: str, container: str, product: str, channel: str) -> str:
    return f"{host}/{container}/{product}/{channel}"


def load_last_seen(path: Path | None) -> dict[str, Any]:
    """The pointers accepted so far; a missing file means "none yet" (first use)."""
    if path is None or not path.exists():
        return {"format": LAST_SEEN_FORMAT, "pointers": {}}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        # Refuse rather than start afresh: resetting this file disables rollback protection.
        raise InputError(f"--last-seen {path} is not a readable JSON file ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != LAST_SEEN_FORMAT or not isinstance(doc.get("pointers"), dict):
        raise InputError(f"--last-seen {path} is not a {LAST_SEEN_FORMAT} document")
    for key, entry in doc["pointers"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("sequence"), int):
            raise InputError(f"--last-seen {path}: entry {key!r} has no integer sequence")
    return doc


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(lock_path, "a+b")
    except OSError as exc:
        raise InputError(f"--last-seen {path}: cannot write beside it ({exc.strerror})") from None
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: one writer at a time is the caller's job
            yield
            return
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        fh.close()


def check_writable(path: Path) -> None:
    """Fail now (InputError naming the file) if the record could not be written later."""
    with _locked(path):
        if path.exists() and not path.is_file():
            raise InputError(f"--last-seen {path} is not a file")


def record(path: Path, key: str, entry: dict[str, Any]) -> None:
    """Store `entry` under `key`, never lowering a sequence another run recorded meanwhile."""
    with _locked(path):
        doc = load_last_seen(path)
        current = doc["pointers"].get(key)
        if current is None or current["sequence"] <= entry["sequence"]:
            doc["pointers"][key] = entry
        try:
            atomic_write_bytes(path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8"))
        except OSError as exc:
            raise InputError(f"--last-seen {path}: cannot write it ({exc.strerror})") from None
