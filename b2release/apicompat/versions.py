"""Semantic versions and the bump a set of API changes requires.

The rule (docs/compat.md): breaking changes need a major bump, or a minor bump while the
old version is 0.y.z (semver's "anything may change" range, read the way Cargo and npm's
caret ranges read it); additive changes need at least a minor bump; no API change allows
a patch. The new version must be greater than the old. A pre-release baseline
(`2.0.0-rc.1`) promises no compatibility, so any greater version passes against it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from b2release.errors import UsageError

_SEMVER = re.compile(
    r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?\Z"
)

BUMP_RANK = {"none": 0, "prerelease": 0, "patch": 1, "minor": 2, "major": 3}


@dataclass(frozen=True)
class Version:
    """A semantic version; compare with sort_key() (build metadata does not order versions)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    text: str = field(default="", compare=False)  # as written, for messages

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _SEMVER.match(text.strip())
        if not match:
            raise UsageError(f"{text!r} is not a semantic version (MAJOR.MINOR.PATCH[-pre][+build])")
        major, minor, patch, pre, _build = match.groups()
        return cls(int(major), int(minor), int(patch), tuple(pre.split(".")) if pre else (), text.strip())

    def sort_key(self) -> tuple:
        # A release sorts after its pre-releases; numeric identifiers before alphanumeric ones.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 1 if not self.prerelease else 0, pre)

    def __str__(self) -> str:
        return self.text or f"{self.major}.{self.minor}.{self.patch}"


def required_bump(level: str, old: Version | str) -> str:
    """"major", "minor" or "patch" for a change level ("breaking", "additive", "none")."""
    old = Version.parse(old) if isinstance(old, str) else old
    if level == "breaking":
        return "minor" if old.major == 0 else "major"
    if level == "additive":
        return "minor"
    if level == "none":
        return "patch"
    raise ValueError(f"unknown change level {level!r}")


def actual_bump(old: Version | str, new: Version | str) -> str:
    """The largest component that went up: "major", "minor", "patch"; "prerelease" when only
    the pre-release part did; "none" when the new version is not greater."""
    old = Version.parse(old) if isinstance(old, str) else old
    new = Version.parse(new) if isinstance(new, str) else new
    if new.sort_key() <= old.sort_key():
        return "none"
    if new.major != old.major:
        return "major"
    if new.minor != old.minor:
        return "minor"
    if new.patch != old.patch:
        return "patch"
    return "prerelease"


def bump_satisfies(old: Version, new: Version, required: str) -> bool:
    bump = actual_bump(old, new)
    if bump == "none":
        return False
    if old.prerelease:
        return True
    return BUMP_RANK[bump] >= BUMP_RANK[required]


def next_version(old: Version, bump: str) -> str:
    """The smallest release version with that bump: what to suggest in a message."""
    if bump == "major":
        return f"{old.major + 1}.0.0"
    if bump == "minor":
        return f"{old.major}.{old.minor + 1}.0"
    if old.prerelease:
        return f"{old.major}.{old.minor}.{old.patch}"
    return f"{old.major}.{old.minor}.{old.patch + 1}"
