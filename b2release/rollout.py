"""Which containers a promote or rollback moves (tenants, rings, the release container), and
the scope their --json and dry-run plans report (planning.py makes the plan itself).

The release container's pointer is the channel as it stands for everyone: `compat` takes
the API baseline of the next release from it, and it is where a channel is complete. So it
moves only with the whole channel:
- no `--tenant` and no `--ring`: every tenant of `[store] tenants`, then the release container;
- `--ring NAME` of the everyone ring (`NAME = *`): the same;
- `--tenant ID ...` or a ring of named tenants: those tenants' containers only, unless
  `--release-container` asks for it too (e.g. the last named ring of a rollout without a
  `*` ring).

Shared by the promote and rollback commands; upload and refresh keep repoint.resolve_targets
as it is (upload always writes the release container, which is where its files go first).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

from b2release.config import Config
from b2release.config.rollout import find_ring, parse_rings
from b2release.errors import ConfigError, UsageError

T = TypeVar("T")


@dataclass(frozen=True)
class Scope:
    tenants: list[str] | None  # None: [store] tenants (everyone)
    release: bool  # the release container moves too
    ring: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ring": self.ring, "release_container": self.release}


def resolve_scope(config: Config, tenants: list[str] | None, ring: str | None, release_container: bool) -> Scope:
    """--tenant / --ring / --release-container (exit 2 for a bad combination or an unknown ring)."""
    if tenants and ring:
        raise UsageError("give --ring NAME or --tenant ID, not both")
    if ring is None:
        return Scope(list(tenants) if tenants else None, release_container or not tenants)
    try:
        found = find_ring(parse_rings(config.get("rollout.rings"), "rollout.rings"), ring)
    except ConfigError as exc:
        raise UsageError(f"--ring: {exc.message}") from None
    if found.everyone:
        return Scope(None, True, found.name)
    return Scope(list(found.tenants), release_container, found.name)


def scoped(targets: T, scope: Scope) -> T:
    """repoint.Targets without the release container unless the scope moves it (duck-typed:
    repoint is a sibling module of this layer)."""
    if scope.release:
        return targets
    release = targets.release_container  # type: ignore[attr-defined]
    containers = [c for c in targets.containers if c != release]  # type: ignore[attr-defined]
    if not containers:
        raise UsageError("no container to change: no tenants given and the release container was not asked for "
                         "(--release-container)")
    return dataclasses.replace(targets, containers=containers)  # type: ignore[type-var]
