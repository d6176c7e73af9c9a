"""What a pointer-moving command would do, as parts of a plan.Plan (`--dry-run`).

Shared by every command that moves channel pointers (upload, rollback, promote, refresh)
and by purge: they decide their moves with their own `decide` (repoint.py) exactly as a
real run does, and then, instead of `repoint.write_moves`, hand the moves here:

- `pointer_changes`: the pointer moves, old -> new version and sequence;
- `queued_paths`: what `write_moves` would queue in state.json for the purge stage;
- `purge_plan`: what the purge that follows would send (the URLs) and log (the tenants).

The sequence a plan shows is the one a real run started now would write if no other
writer moves the pointer in between; a real run that loses a compare-and-swap decides
again (repoint.write_moves) and may write a higher one, or stop (docs/dry-run.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from b2release import cdn
from b2release.config import Config
from b2release.formats.names import TENANT_PREFIX
from b2release.plan import Plan, PointerChange, audit_line
from b2release.repoint import Move
from b2release.stores.channels import signature_path


def pointer_changes(moves: Iterable[Move]) -> list[PointerChange]:
    """The moves that would write a pointer (a Move whose pointer is None is already right)."""
    changes = []
    for move in moves:
        if move.pointer is None:
            continue
        before = move.state.pointer
        changes.append(PointerChange(container=move.container, path=move.state.path, from_version=move.from_version,
                                     to_version=move.to_version,
                                     from_sequence=before.sequence if before is not None else None,
                                     to_sequence=move.pointer.sequence))
    return changes


def unchanged(moves: Iterable[Move]) -> list[str]:
    """Containers whose pointer is already right (left alone), for the plan's notes."""
    return [m.container for m in moves if m.pointer is None]


def queued_paths(changes: Iterable[PointerChange]) -> list[dict[str, str]]:
    """What `repoint.write_moves` would queue for purge: each moved pointer and its signature
    (the paths `stores.channels.write_channel` writes), in state.json's `pending_purge` shape."""
    return [{"container": c.container, "path": path} for c in changes for path in (c.path, signature_path(c.path))]


@dataclass
class PurgePlan:
    """What a purge of `pending` would do: the URLs it sends and the tenants its audit line names."""

    provider: str
    urls: list[str] = field(default_factory=list)
    ignored: list[dict[str, str]] = field(default_factory=list)
    tenants: list[str] = field(default_factory=list)
    product: str | None = None  # the audit line's product (None when the queue mixes products)
    reason: str = ""  # why nothing would be sent ("" when something would)

    @property
    def sends(self) -> bool:
        return bool(self.urls) and not self.reason


def purge_plan(config: Config, pending: Iterable[Any]) -> PurgePlan:
    """The purge stage's decisions on a queue (state.json's `pending_purge` plus whatever a
    dry run would have queued before it), without sending anything: the provider, the
    public URLs (cdn.purge_targets), the entries it would drop, and the tenants and product
    its audit line would name (stages/purge.py does the same on a real run)."""
    entries = list(pending)
    provider = cdn.provider_name(config)
    if provider == "none":
        return PurgePlan(provider, reason="cdn.provider is none")
    if not entries:
        return PurgePlan(provider, reason="nothing queued: no channel pointer changed since the last purge")
    targets = cdn.purge_targets(config.get("cdn.base_url"), entries)
    containers = sorted({str(e.get("container", "")) for e in entries if isinstance(e, dict)})
    products = sorted({str(e.get("path", "")).split("/", 1)[0] for e in entries if isinstance(e, dict)})
    tenants = [c[len(TENANT_PREFIX):] for c in containers if c.startswith(TENANT_PREFIX)]
    reason = "" if targets.urls else f"{len(targets.ignored)} queued entries are not channel pointers"
    return PurgePlan(provider, targets.urls, targets.ignored, tenants, products[0] if len(products) == 1 else None,
                     reason)


def merge_queue(pending: Iterable[dict[str, str]], queued: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    """`pending` plus the `queued` entries it lacks, as State.queue_purge would add them."""
    out = list(pending)
    seen = {(e.get("container"), e.get("path")) for e in out}
    for entry in queued:
        if (entry["container"], entry["path"]) not in seen:
            out.append(entry)
            seen.add((entry["container"], entry["path"]))
    return out


def chained_purge(config: Config, plan: Plan, pending: list[dict[str, str]], purge: bool) -> None:
    """Add to `plan` what the purge a command chains after moving pointers (rollback, promote,
    refresh) would do: `pending` is state.json's queue with this command's paths merged in
    (merge_queue). With --no-purge (`purge` False) nothing is sent and the queue is kept."""
    if not purge:
        plan.notes.append(f"--no-purge: {len(pending)} queued pointer paths would wait for `b2release purge`")
        return
    purge_of = purge_plan(config, pending)
    if not purge_of.sends:
        plan.notes.append(f"purge: nothing would be sent ({purge_of.reason})")
        return
    plan.purge_urls += purge_of.urls
    plan.audit_lines.append(audit_line("purge", purge_of.tenants))


def pointer_plan(command: str, config: Config, moves: list[Move], audit_lines: list[str],
                 pending: list[dict[str, str]], purge: bool, notes: Iterable[str] = (),
                 left_alone: str = "already right, left alone") -> Plan:
    """A pointer-moving command's whole plan (promote, rollback, refresh): the moves, the
    audit lines its AuditTrail(planned=True) computed, containers left alone, and the
    purge it chains after (`pending`: state.json's queue before this command)."""
    plan = Plan(command, notes=list(notes))
    plan.pointer_moves, plan.audit_lines = pointer_changes(moves), list(audit_lines)
    if plan.pointer_moves:
        chained_purge(config, plan, merge_queue(pending, queued_paths(plan.pointer_moves)), purge)
        plan.notes.append(f"pointer sequences are what this {command} would write if no other writer moves the "
                          "channel first")
    if left := unchanged(moves):
        plan.notes.append(f"{left_alone}: {', '.join(left)}")
    return plan
