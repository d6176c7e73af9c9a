"""`[rollout] rings` and `[promote] gated`: the two config values with a grammar of their own.

Rings are ordered groups of tenants, so a rollout goes pilot -> early -> everyone:

    [rollout]
    rings = ["pilot = acme", "early = globex initech", "all = *"]

(`B2RELEASE_ROLLOUT_RINGS="pilot=acme,early=globex initech,all=*"` in the environment.)
A list of strings and not a TOML table, because TOML does not promise the order of a
table's keys and a ring's place in the rollout is its order; and a list works the same in
the file and in one environment variable. Rules, checked when the config is loaded (exit 2,
naming the file or variable):
- a ring is `NAME = TENANT ...` (tenants separated by spaces) or `NAME = *`;
- ring names are channel-like (1-32 lowercase letters, digits, '-') and unique;
- every tenant named is one of `[store] tenants`, and in one ring only;
- `*` (every tenant of `[store] tenants`, and the release container) only as the last ring.

Gated channel pairs are `FROM->TO`, e.g. `staging->stable`.

Config cannot import formats (one layer), so the channel-name rule of formats/pointer.py
is repeated here for ring and channel names; both are only ever compared with validated
names, never used as a path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from b2release.errors import ConfigError

EVERYONE = "*"
_NAME = r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?"  # formats/pointer.py's channel rule
_RING = re.compile(rf"^\s*({_NAME})\s*=\s*(.*?)\s*$")
_PAIR = re.compile(rf"^\s*({_NAME})\s*->\s*({_NAME})\s*$")


@dataclass(frozen=True)
class Ring:
    name: str
    tenants: tuple[str, ...]  # () for the everyone ring
    everyone: bool = False

    def describe(self) -> str:
        return f"{self.name} = {EVERYONE if self.everyone else ' '.join(self.tenants)}"


def parse_rings(values: list[str], where: str) -> list[Ring]:
    """The rings, in order; ConfigError naming `where` (e.g. "b2release.toml: rollout.rings")."""
    rings: list[Ring] = []
    owner: dict[str, str] = {}
    for index, text in enumerate(values):
        match = _RING.fullmatch(text)
        if not match:
            raise ConfigError(f"{where}: {text!r} is not a ring: use \"NAME = TENANT TENANT ...\" or \"NAME = *\" "
                              "(NAME: lowercase letters, digits, '-')")
        name, members = match.group(1), match.group(2).split()
        if any(r.name == name for r in rings):
            raise ConfigError(f"{where}: ring {name!r} is defined twice")
        if not members:
            raise ConfigError(f"{where}: ring {name!r} names no tenant (use \"{name} = *\" for everyone)")
        if EVERYONE in members:
            if members != [EVERYONE]:
                raise ConfigError(f"{where}: ring {name!r} mixes '*' with tenant ids; '*' is every tenant")
            if index != len(values) - 1:
                raise ConfigError(f"{where}: ring {name!r} is '*' (every tenant) but is not the last ring")
            rings.append(Ring(name, (), everyone=True))
            continue
        for tenant in members:
            if tenant in owner:
                raise ConfigError(f"{where}: tenant {tenant!r} is in ring {owner[tenant]!r} and in ring {name!r}; "
                                  "a tenant belongs to one ring")
            owner[tenant] = name
        rings.append(Ring(name, tuple(dict.fromkeys(members))))
    return rings


def check_members(rings: list[Ring], tenants: list[str], where: str, tenants_where: str) -> None:
    """Every tenant a ring names must be one of `[store] tenants` (ConfigError otherwise)."""
    known = set(tenants)
    for ring in rings:
        unknown = [t for t in ring.tenants if t not in known]
        if unknown:
            raise ConfigError(f"{where}: ring {ring.name!r} names {', '.join(map(repr, unknown))}, not in "
                              f"store.tenants ({tenants_where}: {', '.join(tenants) or 'none'})")


def ring_of(rings: list[Ring], tenant: str) -> str | None:
    """The ring a tenant rolls out with: the ring naming it, else the everyone ring, else None."""
    for ring in rings:
        if tenant in ring.tenants or ring.everyone:
            return ring.name
    return None


def find_ring(rings: list[Ring], name: str) -> Ring:
    for ring in rings:
        if ring.name == name:
            return ring
    known = ", ".join(r.name for r in rings) or "none: set [rollout] rings"
    raise ConfigError(f"unknown ring {name!r} (rings: {known})")


def parse_pairs(values: list[str], where: str) -> set[tuple[str, str]]:
    """`FROM->TO` channel pairs."""
    pairs = set()
    for text in values:
        match = _PAIR.fullmatch(text)
        if not match or match.group(1) == match.group(2):
            raise ConfigError(f"{where}: {text!r} is not a channel pair: use \"FROM->TO\", e.g. \"staging->stable\"")
        pairs.add((match.group(1), match.group(2)))
    return pairs
