"""Every channel pointer of many containers, read and checked at once: what `b2release
status` shows and what benchmarks/bench_scale.py measures.

Per container: one listing of `<product>/channels/` (unless the channels are named), then
per channel the pointer and its signature (two small reads, stores.channels.read_channel).
Containers are read in parallel (`workers` at a time: `[store] fanout` for status), so 200
tenants cost about the time of 200 / workers sequential containers. Nothing is written.

A pointer is shown for what it is: `ok`, `expired`, or `unverifiable` (its signature does
not verify with the release key, it is an unbound `b2release-pointer/1`, or it is a validly
signed pointer of another place copied here); an unverifiable pointer's fields are only
what it *claims*, kept apart from the verified ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from b2release import fanout
from b2release.errors import VerificationError
from b2release.formats import pointer as pointer_fmt
from b2release.formats.signature import PublicKey
from b2release.stores.base import Store
from b2release.stores.channels import read_channel

# Containers read at once: below the Azure SDK's pool of 10 connections per client (more
# threads only wait for, and discard, connections). 200 tenants on Azurite: 5.0 s one at a
# time, 3.3 s with 8 (benchmarks/bench_scale.py).
WORKERS = 8


@dataclass(frozen=True)
class ChannelView:
    container: str
    channel: str
    state: str  # "ok" | "expired" | "unverifiable" | "missing"
    version: str | None = None
    sequence: int | None = None
    expires_at: str | None = None
    since: str | None = None  # since when this release has been on the channel (signed `since`, else issued_at)
    note: str = ""  # rollback / promoted / override, or why it is unverifiable
    claimed: dict[str, Any] | None = None  # an unverifiable pointer's own word

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def channel_names(store: Store, container: str, product: str) -> list[str]:
    prefix = f"{product}/channels/"
    return sorted(b.path[len(prefix):-len(".json")] for b in store.list(container, prefix)
                  if b.path.endswith(".json") and "/" not in b.path[len(prefix):])


def _note(p: pointer_fmt.Pointer) -> str:
    parts = []
    if p.rollback:
        parts.append(f"rolled back from {p.rollback.get('from')}: {p.rollback.get('reason')}")
    if p.promoted_from:
        parts.append(f"promoted from {p.promoted_from}")
    if p.override:
        parts.append(f"staging gate overridden: {p.override.get('reason')}")
    return "; ".join(parts)


def view(store: Store, container: str, product: str, channel: str, public: PublicKey, now: float) -> ChannelView:
    try:
        state = read_channel(store, container, product, channel, public)
    except VerificationError as exc:  # malformed, or a valid pointer of another place copied here
        return ChannelView(container, channel, "unverifiable", note=exc.message)
    p = state.pointer
    if p is None:
        return ChannelView(container, channel, "missing")
    if not state.verified or not p.bound:
        why = ("an unbound b2release-pointer/1" if state.verified else
               "no signature" if state.signature is None else "its signature does not verify with the release key")
        return ChannelView(container, channel, "unverifiable", note=why,
                           claimed={"version": p.version, "sequence": p.sequence, "expires_at": p.expires_at})
    expired = pointer_fmt.parse_rfc3339(p.expires_at) <= now
    return ChannelView(container, channel, "expired" if expired else "ok", p.version, p.sequence, p.expires_at,
                       p.on_channel_since, _note(p))


def read_overview(store: Store, product: str, containers: list[str], channels: list[str] | None,
                  public: PublicKey, now: float, workers: int = WORKERS) -> dict[str, list[ChannelView]]:
    """container -> its channels' views (the named `channels`, else every channel it holds)."""

    def one(container: str) -> list[ChannelView]:
        names = channels if channels is not None else channel_names(store, container, product)
        return [view(store, container, product, name, public, now) for name in names]

    return dict(zip(containers, fanout.each(one, containers, workers), strict=True))
