"""What a command would change, for `--dry-run`: one shape for every changing command.

A dry run resolves everything a real run would (config, keys, targets, versions, what
exists remotely: read-only calls are allowed) and returns a Plan instead of changing
anything: no container, blob, access policy, pointer, CDN rule, purge, audit line or
state.json change. The same Plan is what the real run then does, so tests compare a dry
run's plan with the real run's result. `--json` carries `Plan.to_dict()` under "plan";
the human output is `render` (tables on stderr) and `summary()` (the result line).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class FileSend:
    name: str  # the file name within the version folder
    size: int
    container: str  # where it is uploaded (the release container)


@dataclass(frozen=True)
class Copy:
    name: str
    size: int
    source: str  # container copied from
    container: str  # container copied to (a tenant's)


@dataclass(frozen=True)
class PointerChange:
    container: str
    path: str  # <product>/channels/<channel>.json
    from_version: str | None
    to_version: str
    from_sequence: int | None
    to_sequence: int


@dataclass(frozen=True)
class GrantChange:
    tenant: str
    container: str
    action: str  # "create" | "remove"
    policy_id: str = ""  # for a removal: the stored access policy; for a creation: empty (named on creation)
    expires_at: str = ""


@dataclass
class Plan:
    command: str
    containers_to_create: list[str] = field(default_factory=list)
    files: list[FileSend] = field(default_factory=list)
    copies: list[Copy] = field(default_factory=list)
    pointer_moves: list[PointerChange] = field(default_factory=list)
    grants: list[GrantChange] = field(default_factory=list)
    purge_urls: list[str] = field(default_factory=list)
    cdn_rules: list[str] = field(default_factory=list)  # WAF rule refs that would be created or rewritten
    audit_lines: list[str] = field(default_factory=list)  # "<action> <tenants>" that would be appended
    notes: list[str] = field(default_factory=list)  # what was checked, what is already right

    @property
    def empty(self) -> bool:
        return not (self.containers_to_create or self.files or self.copies or self.pointer_moves or self.grants
                    or self.purge_urls or self.cdn_rules)

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["bytes_to_send"] = sum(f.size for f in self.files)
        return doc

    def summary(self) -> str:
        if self.empty:
            return f"dry run: {self.command} would change nothing"
        parts = []
        if self.containers_to_create:
            parts.append(f"create {len(self.containers_to_create)} container(s)")
        if self.files:
            parts.append(f"send {len(self.files)} file(s) ({sum(f.size for f in self.files)} bytes)")
        if self.copies:
            parts.append(f"make {len(self.copies)} server-side copies")
        if self.pointer_moves:
            parts.append(f"move {len(self.pointer_moves)} pointer(s)")
        if self.grants:
            parts.append(f"{'/'.join(sorted({g.action for g in self.grants}))} {len(self.grants)} grant(s)")
        if self.cdn_rules:
            parts.append(f"write {len(self.cdn_rules)} CDN rule(s)")
        if self.purge_urls:
            parts.append(f"purge {len(self.purge_urls)} URL(s)")
        return f"dry run: {self.command} would " + ", ".join(parts) + "; nothing was changed"


def render(console: Any, plan: Plan) -> None:
    """The plan as tables on stderr; every value escaped, never markup."""
    from rich.markup import escape
    from rich.table import Table

    def table(title: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        t = Table(*columns, title=title, title_justify="left")
        for row in rows:
            t.add_row(*(escape("" if v is None else str(v)) for v in row))
        console.print(t)

    table("containers to create", ("container",), [(c,) for c in plan.containers_to_create])
    table("files to send", ("file", "bytes", "to"), [(f.name, f.size, f.container) for f in plan.files])
    table("server-side copies", ("file", "bytes", "from", "to"),
          [(c.name, c.size, c.source, c.container) for c in plan.copies])
    table("pointer moves", ("container", "pointer", "from", "to"),
          [(m.container, m.path, f"{m.from_version or '-'} (#{m.from_sequence or '-'})",
            f"{m.to_version} (#{m.to_sequence})") for m in plan.pointer_moves])
    table("grants", ("tenant", "container", "action", "policy", "expires"),
          [(g.tenant, g.container, g.action, g.policy_id, g.expires_at) for g in plan.grants])
    table("CDN rules", ("rule",), [(r,) for r in plan.cdn_rules])
    table("URLs to purge", ("url",), [(u,) for u in plan.purge_urls])
    table("audit log lines", ("line",), [(a,) for a in plan.audit_lines])
    for note in plan.notes:
        console.print(note, markup=False, highlight=False)
