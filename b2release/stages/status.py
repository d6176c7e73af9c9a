"""status: per tenant, each channel's version, sequence, expiry and ring, from the store.

Reads the signed channel pointers of every tenant of `[store] tenants` (or --tenant, or
--ring) and of the release container, and checks each with the release public key
(stores/overview.py); an unverifiable pointer is shown as such, never as a version. The
ring column comes from `[rollout] rings`. Read-only (RECORDED = False): nothing in the
store or the work dir changes, so it runs anywhere the store can be read.

Exit 0 whatever the pointers say (the table says it); 2 for bad flags or config, 3 when
the store cannot be read.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from b2release import rollout
from b2release.config.rollout import parse_rings, ring_of
from b2release.context import Context
from b2release.errors import UsageError
from b2release.formats import pointer as pointer_fmt
from b2release.formats.signature import PublicKey
from b2release.stages import StageResult
from b2release.stores import open_store
from b2release.stores.overview import ChannelView, read_overview
from b2release.stores.tenants import tenant_container, validate_container_name, validate_tenants

NAME = "status"
RECORDED = False


@dataclass
class Options:
    channels: list[str] | None = None  # default: every channel found in each container
    tenants: list[str] | None = None
    ring: str | None = None
    store: str | None = None
    public_key: Path | None = None


def _public_key(ctx: Context, override: Path | None) -> PublicKey:
    """--public-key, [release] public_key, else the public half of [release] signing_key."""
    if override is None and ctx.config.path("release.public_key") is None and ctx.config.path("release.signing_key"):
        return ctx.signing_key().public()
    return ctx.public_key(override)


def run(ctx: Context, options: Options | None = None) -> StageResult:
    opts = options or Options()
    config = ctx.config
    product = ctx.product_name()
    channels = [pointer_fmt.validate_channel(c) for c in opts.channels] if opts.channels else None
    scope = rollout.resolve_scope(config, opts.tenants, opts.ring, release_container=False)
    tenants = validate_tenants(scope.tenants if scope.tenants is not None else list(config.get("store.tenants")))
    release = validate_container_name(config.get("store.release_container"), "store.release_container")
    rings = parse_rings(config.get("rollout.rings"), "rollout.rings")
    public = _public_key(ctx, opts.public_key)
    containers = [tenant_container(t) for t in tenants] + [release]
    if len(set(containers)) != len(containers):
        raise UsageError(f"store.release_container {release!r} collides with a tenant container")
    started = time.monotonic()
    with open_store(config, opts.store, ctx.correlation_id) as store:
        views = read_overview(store, product, containers, channels, public, time.time(),
                              config.get("store.fanout"))
        where = store.description
    seconds = time.monotonic() - started

    rows = [{"tenant": t, "container": tenant_container(t), "ring": ring_of(rings, t),
             "channels": {v.channel: v.to_dict() for v in views[tenant_container(t)]}} for t in tenants]
    counts = Counter(v.state for found in views.values() for v in found)
    names = sorted({v.channel for found in views.values() for v in found})
    if not ctx.json_output and ctx.verbosity >= 0:
        _render(ctx, rows, release, views[release], names)
    problems = ", ".join(f"{counts[s]} {s}" for s in ("expired", "unverifiable", "missing") if counts[s])
    summary = (f"{product}: {len(names)} channel(s) in {len(tenants)} tenant(s) and {release} from {where} "
               f"({counts['ok']} ok{', ' + problems if problems else ''}; {seconds:.1f}s)")
    data = {"product": product, "store": where, "channels": names, "ring": scope.ring, "tenants": rows,
            "release_container": {"container": release,
                                  "channels": {v.channel: v.to_dict() for v in views[release]}},
            "counts": dict(sorted(counts.items()))}
    return StageResult(stage=NAME, summary=summary, data=data)


def _minute(stamp: str | None) -> str:
    """2026-12-10T08:31:07Z -> 2026-12-10 08:31 (UTC): what fits a table row."""
    return stamp[:16].replace("T", " ") if stamp else ""


def _cell(view: ChannelView | None) -> tuple[str, str, str, str]:
    """(version, sequence, expires, note) as shown in the table (since: --json)."""
    if view is None:
        return "-", "", "", ""
    if view.state == "unverifiable":  # what it claims is not a version: only a note
        claims = f"claims {view.claimed['version']}; " if view.claimed else ""
        return "UNVERIFIABLE", "", "", claims + view.note
    if view.state == "missing":
        return "-", "", "", "no pointer"
    expires = _minute(view.expires_at) + (" EXPIRED" if view.state == "expired" else "")
    return str(view.version), str(view.sequence), expires, view.note


def _render(ctx: Context, rows: list[dict[str, Any]], release: str, release_views: list[ChannelView],
            names: list[str]) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Column, Table

    table = Table(Column("tenant", no_wrap=True), "ring", "channel", Column("version", no_wrap=True),
                  "seq", Column("expires (UTC)", no_wrap=True), Column("note", overflow="fold"),
                  box=box.SIMPLE_HEAD, pad_edge=False)
    entries = [(r["tenant"], r["ring"] or "-", {c: ChannelView(**v) for c, v in r["channels"].items()}) for r in rows]
    entries.append((f"({release})", "-", {v.channel: v for v in release_views}))
    for tenant, ring, found in entries:
        for index, channel in enumerate(names):
            cells = (tenant if index == 0 else "", ring if index == 0 else "", channel, *_cell(found.get(channel)))
            table.add_row(*(escape(x) for x in cells))
    ctx.console.print(table)
