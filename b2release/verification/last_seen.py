"""`verify --remote --last-seen FILE`: the channel pointers a client accepted so far.

Rollback protection needs memory: a client refuses a pointer whose sequence is lower than
the last one it accepted. The file is JSON, written atomically; a missing file means
"none yet" (first use); an unreadable one is refused rather than reset, because resetting
it would silently disable the protection.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from b2release.errors import InputError
from b2release.fsutil import atomic_write_bytes

LAST_SEEN_FORMAT = "b2release-last-seen/1"


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


def save_last_seen(path: Path, doc: dict[str, Any]) -> None:
    atomic_write_bytes(path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8"))
