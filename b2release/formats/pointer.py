"""Channel pointers `<product>/channels/<channel>.json` (+ `.sig`), signed like manifests.

A pointer names the version a channel serves. Clients refuse a pointer that is expired
(freeze attack) or whose sequence is lower than one already seen (rollback attack), as
TUF clients do; deliberate rollbacks raise the sequence and say so in `rollback`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from b2release.errors import UsageError, VerificationError
from b2release.formats import canonical

POINTER_FORMAT = "b2release-pointer/1"
_CHANNEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")


def validate_channel(name: str) -> str:
    if not _CHANNEL.match(name or ""):
        raise UsageError(f"invalid channel name {name!r}: use 1-32 lowercase letters, digits or '-'")
    return name


def pointer_path(product: str, channel: str) -> str:
    return f"{product}/channels/{channel}.json"


def rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(ts)))


def parse_rfc3339(text: str) -> float:
    import calendar

    try:
        return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")))
    except (TypeError, ValueError):
        raise VerificationError(f"pointer time {text!r} is not YYYY-MM-DDTHH:MM:SSZ") from None


@dataclass
class Pointer:
    product: str
    channel: str
    version: str
    manifest_sha256: str
    sequence: int
    issued_at: str
    expires_at: str
    rollback: dict[str, str] | None = None
    promoted_from: str | None = None

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "format": POINTER_FORMAT,
            "product": self.product,
            "channel": self.channel,
            "version": self.version,
            "manifest_sha256": self.manifest_sha256,
            "sequence": self.sequence,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
        }
        if self.rollback is not None:
            doc["rollback"] = self.rollback
        if self.promoted_from is not None:
            doc["promoted_from"] = self.promoted_from
        return doc

    def to_bytes(self) -> bytes:
        return canonical.dumps(self.to_dict())


def new(product: str, channel: str, version: str, manifest_sha256: str, sequence: int, ttl_s: int,
        now: float | None = None, **extra: Any) -> Pointer:
    now = time.time() if now is None else now
    return Pointer(product, channel, version, manifest_sha256, sequence, rfc3339(now), rfc3339(now + ttl_s), **extra)


def parse(data: bytes, what: str = "channel pointer") -> Pointer:
    doc = canonical.loads(data, what)
    if not isinstance(doc, dict) or doc.get("format") != POINTER_FORMAT:
        raise VerificationError(f"{what} is not a {POINTER_FORMAT} document")
    try:
        pointer = Pointer(
            product=str(doc["product"]),
            channel=str(doc["channel"]),
            version=str(doc["version"]),
            manifest_sha256=str(doc["manifest_sha256"]),
            sequence=int(doc["sequence"]),
            issued_at=str(doc["issued_at"]),
            expires_at=str(doc["expires_at"]),
            rollback=doc.get("rollback"),
            promoted_from=doc.get("promoted_from"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationError(f"{what} is malformed: {exc}") from None
    return pointer


def check_fresh(pointer: Pointer, what: str, now: float | None = None, last_seen_sequence: int | None = None) -> None:
    """The client-side rules: not expired, sequence not lower than the last one seen."""
    now = time.time() if now is None else now
    if parse_rfc3339(pointer.expires_at) <= now:
        raise VerificationError(f"{what} expired at {pointer.expires_at} (freeze protection)")
    if last_seen_sequence is not None and pointer.sequence < last_seen_sequence:
        raise VerificationError(
            f"{what} has sequence {pointer.sequence}, lower than the last seen {last_seen_sequence} (rollback protection)"
        )
