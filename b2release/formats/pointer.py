"""Channel pointers `<product>/channels/<channel>.json` (+ `.sig`), signed like manifests.

A pointer names the version a channel serves, and binds it to its place and its bytes:
the container it was written for (a tenant's `tenant-<id>` or the release container), so
a validly signed pointer of one tenant is refused at another tenant's URL, and the sha256
of the package zip, so no byte a client downloads is outside a signature. Clients refuse a
pointer that is expired (freeze attack) or whose sequence is lower than one already seen
(rollback attack), as TUF clients do; deliberate rollbacks raise the sequence and say so.

`b2release-pointer/1` (before the binding) is still read, as an unbound pointer that no
check trusts: re-publishing (upload, promote, refresh) replaces it with a bound one.

Two optional fields of `/2` (readers that predate them ignore them; b2release reads
pointers without them):
- `since`: since when this channel has served this release in this container. A pointer
  is issued at the start of the command that wrote it, and `refresh` re-issues pointers,
  so `issued_at` alone cannot say how long a release has been on a channel; `since` is
  set to `issued_at` when the release changes and carried over (signed again) whenever the
  same release is re-issued (`carry_over`). Missing (older pointers): `issued_at` stands
  in, which is never earlier than the truth, so a soak measured from it is never too long.
- `override`: `{reason, checks}` when `promote --force` moved the channel past the staging
  gate: why, and which checks failed. Kept while the same decision is re-issued.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from b2release.errors import UsageError, VerificationError
from b2release.formats import canonical

POINTER_FORMAT = "b2release-pointer/2"
LEGACY_FORMAT = "b2release-pointer/1"  # no container, no package digest: read, never trusted
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CHANNEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")


def validate_channel(name: str) -> str:
    if not _CHANNEL.fullmatch(name or ""):
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
    container: str | None = None  # None only in a legacy (/1) pointer
    package_sha256: str | None = None  # sha256 of <product>-<version>.zip; None only in /1
    rollback: dict[str, str] | None = None
    promoted_from: str | None = None
    since: str | None = None  # /2, optional: see the module docstring
    override: dict[str, Any] | None = None  # /2, optional: promote --force {reason, checks}

    @property
    def bound(self) -> bool:
        """A /2 pointer: it names its container and its package's digest."""
        return self.container is not None and self.package_sha256 is not None

    def to_dict(self) -> dict[str, Any]:
        if not self.bound:
            raise ValueError("a pointer is written with its container and package digest")
        doc: dict[str, Any] = {
            "format": POINTER_FORMAT,
            "product": self.product,
            "channel": self.channel,
            "container": self.container,
            "version": self.version,
            "manifest_sha256": self.manifest_sha256,
            "package_sha256": self.package_sha256,
            "sequence": self.sequence,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
        }
        if self.rollback is not None:
            doc["rollback"] = self.rollback
        if self.promoted_from is not None:
            doc["promoted_from"] = self.promoted_from
        if self.since is not None:
            doc["since"] = self.since
        if self.override is not None:
            doc["override"] = self.override
        return doc

    @property
    def on_channel_since(self) -> str:
        """Since when this release has been on the channel: `since`, else `issued_at` (older pointers)."""
        return self.since or self.issued_at

    def to_bytes(self) -> bytes:
        return canonical.dumps(self.to_dict())


def new(*, product: str, channel: str, container: str, version: str, manifest_sha256: str, package_sha256: str,
        sequence: int, ttl_s: int, now: float | None = None, **extra: Any) -> Pointer:
    now = time.time() if now is None else now
    extra.setdefault("since", rfc3339(now))  # a new decision; carry_over keeps an older one for the same release
    return Pointer(product=product, channel=channel, version=version, manifest_sha256=manifest_sha256,
                   sequence=sequence, issued_at=rfc3339(now), expires_at=rfc3339(now + ttl_s), container=container,
                   package_sha256=package_sha256, **extra)


def same_release(a: Pointer, b: Pointer) -> bool:
    return (a.version, a.manifest_sha256, a.package_sha256) == (b.version, b.manifest_sha256, b.package_sha256)


def carry_over(previous: Pointer | None, verified: bool, new: Pointer) -> Pointer:
    """`new` with what it inherits from the pointer it replaces (written and signed after this).

    Only a trusted predecessor (`verified`: its signature checked out; bound to the place of
    `new`: container, product, channel) passes anything on:
    - `since`, when both name the same release (a refresh, a rewrite of an expired pointer,
      a rollback or promote onto what the channel already served): the release has been on
      the channel since then, whoever re-issued it;
    - `override`, when `new` re-issues the very same decision (same release, rollback and
      promoted_from) without one of its own: the reason the channel moved stays with it.
    """
    if previous is None or not verified or not previous.bound or not same_release(previous, new) \
            or (previous.container, previous.product, previous.channel) != (new.container, new.product, new.channel):
        return new
    new.since = previous.on_channel_since
    if new.override is None and (previous.rollback, previous.promoted_from) == (new.rollback, new.promoted_from):
        new.override = previous.override
    return new


def parse(data: bytes, what: str = "channel pointer") -> Pointer:
    doc = canonical.loads(data, what)
    if not isinstance(doc, dict) or doc.get("format") not in (POINTER_FORMAT, LEGACY_FORMAT):
        raise VerificationError(f"{what} is not a {POINTER_FORMAT} document")
    bound = doc["format"] == POINTER_FORMAT
    try:
        sequence = doc["sequence"]
        if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
            raise ValueError(f"sequence {sequence!r} is not a whole number")
        pointer = Pointer(
            product=_text(doc, "product"),
            channel=_text(doc, "channel"),
            version=_text(doc, "version"),
            manifest_sha256=_digest(doc, "manifest_sha256"),
            sequence=sequence,
            issued_at=_text(doc, "issued_at"),
            expires_at=_text(doc, "expires_at"),
            container=_text(doc, "container") if bound else None,
            package_sha256=_digest(doc, "package_sha256") if bound else None,
            rollback=doc.get("rollback"),
            promoted_from=doc.get("promoted_from"),
            since=_optional_time(doc, "since"),
            override=_optional_override(doc),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationError(f"{what} is malformed: {exc}") from None
    return pointer


def _text(doc: dict[str, Any], key: str) -> str:
    value = doc[key]
    if not isinstance(value, str):
        raise ValueError(f"{key} is not a string")
    return value


def _optional_time(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} is not a string")
    parse_rfc3339(value)  # a malformed time is a malformed pointer, not a soak of zero
    return value


def _optional_override(doc: dict[str, Any]) -> dict[str, Any] | None:
    value = doc.get("override")
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("reason"), str) \
            or not isinstance(value.get("checks", []), list):
        raise ValueError("override is not {reason, checks}")
    return value


def _digest(doc: dict[str, Any], key: str) -> str:
    value = _text(doc, key)
    if not _HEX64.fullmatch(value):
        raise ValueError(f"{key} is not a sha256 hex digest")
    return value


def check_fresh(pointer: Pointer, what: str, now: float | None = None, last_seen_sequence: int | None = None) -> None:
    """The client-side rules: not expired, sequence not lower than the last one seen."""
    now = time.time() if now is None else now
    if parse_rfc3339(pointer.expires_at) <= now:
        raise VerificationError(f"{what} expired at {pointer.expires_at} (freeze protection)")
    if last_seen_sequence is not None and pointer.sequence < last_seen_sequence:
        raise VerificationError(
            f"{what} has sequence {pointer.sequence}, lower than the last seen {last_seen_sequence} (rollback protection)"
        )
