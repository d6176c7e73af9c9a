"""What a command changed, appended to the release audit log (formats/auditlog.py, stores/audit.py).

Every command that changes a store or the CDN records it here: upload (a version's files
and the pointers it moved), promote, rollback and refresh (pointer moves), grant, revoke
and purge. A line is signed with the release key, so these commands load it before they
change anything. Pointer moves are grouped: containers that moved from the same sequence
to the same one under the same version share one line listing their tenants, so a command
that moves 200 tenants in lockstep appends one line, not 200.

The log lives in the release container of the store the command changed. A failure to
append after the change is reported as a store failure (exit 3) that names what did change,
so an operator knows the log is missing that line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from b2release import log
from b2release.errors import B2ReleaseError, RemoteError
from b2release.formats.auditlog import AuditRecord, current_actor, utc_now
from b2release.formats.names import TENANT_PREFIX
from b2release.stores.audit import append_audit

if TYPE_CHECKING:
    from b2release.context import Context
    from b2release.formats.signature import SigningKey
    from b2release.stores.base import Store


def tenant_of(container: str) -> str | None:
    return container[len(TENANT_PREFIX):] if container.startswith(TENANT_PREFIX) else None


@dataclass
class AuditTrail:
    ctx: Context
    store: Store
    key: SigningKey
    command: str
    product: str | None = None
    channel: str | None = None
    appended: list[dict[str, Any]] = field(default_factory=list)

    @property
    def container(self) -> str:
        return self.ctx.config.get("store.release_container")

    def record(self, action: str, *, tenants: tuple[str, ...] | list[str] = (), version: str | None = None,
               sequence_before: int | None = None, sequence_after: int | None = None,
               grant_id: str | None = None) -> None:
        record = AuditRecord(time=utc_now(), actor=current_actor(), command=self.command, action=action,
                             correlation_id=self.ctx.correlation_id, tenants=tuple(tenants), product=self.product,
                             version=version, channel=self.channel, sequence_before=sequence_before,
                             sequence_after=sequence_after, grant_id=grant_id)
        try:
            append_audit(self.store, record, self.key, container=self.container)
        except B2ReleaseError as exc:
            raise RemoteError(f"{self.command}: the change is made ({action}"
                              f"{' for ' + ', '.join(tenants) if tenants else ''}), but the audit log in "
                              f"{self.container} could not record it: {exc.message}") from None
        self.appended.append({"action": action, "tenants": list(tenants), "version": version})
        log.get(self.command).debug("audit log: %s %s", action, ", ".join(tenants) or self.container)

    def moves(self, moved: list[Any]) -> None:
        """One move-pointer line per group of containers that moved alike: `moved` are
        repoint.Move objects (a sibling module: passed in by repoint.write_moves, not imported)."""
        groups: dict[tuple[str, int | None, int | None], list[str]] = {}
        for move in moved:
            if move.pointer is None:
                continue
            before = move.state.pointer.sequence if move.state.pointer is not None else None
            groups.setdefault((move.to_version, before, move.pointer.sequence), []).append(move.container)
        for (version, before, after), containers in groups.items():
            tenants = sorted(t for t in map(tenant_of, containers) if t is not None)
            self.record("move-pointer", tenants=tenants, version=version, sequence_before=before,
                        sequence_after=after)
