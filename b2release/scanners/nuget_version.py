"""NuGet version semantics (not SemVer): what OSV's NuGet ECOSYSTEM ranges are written in.

- one to four numeric parts (Major.Minor.Patch.Revision); missing parts are 0, so
  1.0 == 1.0.0 == 1.0.0.0; leading zeros are allowed (1.01 == 1.1);
- an optional prerelease label after "-": dot-separated identifiers, compared
  case-insensitively, numeric identifiers numerically and below alphanumeric ones
  (SemVer 2 precedence); a prerelease sorts before its release;
- build metadata after "+" is ignored for ordering and equality.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_PATTERN = re.compile(
    r"^\s*v?(?P<nums>\d+(?:\.\d+){0,3})"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<meta>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?\s*$"
)


class InvalidVersion(ValueError):
    pass


@total_ordering
@dataclass(frozen=True)
class NuGetVersion:
    numbers: tuple[int, int, int, int]
    prerelease: tuple[str, ...] = ()  # lower-cased identifiers
    original: str = ""

    @classmethod
    def parse(cls, text: str) -> NuGetVersion:
        match = _PATTERN.fullmatch(str(text))
        if not match:
            raise InvalidVersion(f"not a NuGet version: {text!r}")
        nums = [int(n) for n in match.group("nums").split(".")]
        nums += [0] * (4 - len(nums))
        pre = tuple(p.lower() for p in match.group("pre").split(".")) if match.group("pre") else ()
        return cls((nums[0], nums[1], nums[2], nums[3]), pre, str(text).strip())

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def _key(self) -> tuple:
        # A release sorts after all of its prereleases: (1, ()) > (0, labels).
        pre_key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.numbers, 1 if not self.prerelease else 0, pre_key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NuGetVersion):
            return NotImplemented
        return self._key() == other._key()

    def __lt__(self, other: NuGetVersion) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def normalized(self) -> str:
        """NuGet's normalised form: three parts (four when Revision is set), no metadata."""
        nums = list(self.numbers if self.numbers[3] else self.numbers[:3])
        text = ".".join(str(n) for n in nums)
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        return text

    def __str__(self) -> str:
        return self.original or self.normalized()


def parse(text: str) -> NuGetVersion:
    return NuGetVersion.parse(text)


def try_parse(text: str | None) -> NuGetVersion | None:
    if text is None:
        return None
    try:
        return NuGetVersion.parse(text)
    except InvalidVersion:
        return None


_RANGE = re.compile(r"^\s*(?P<open>[\[(])\s*(?P<low>[^,\])]*?)\s*(?:,\s*(?P<high>[^\])]*?)\s*)?(?P<close>[\])])\s*$")


def resolve_requested(spec: str) -> tuple[NuGetVersion | None, str]:
    """The version NuGet restores for a requested version spec, when it is knowable offline.

    "1.2.3" means ">= 1.2.3" and NuGet picks the lowest applicable version, 1.2.3; an
    interval "[1.2.3, 2.0)" likewise resolves to its inclusive lower bound. Floating
    versions ("1.2.*") and exclusive lower bounds depend on the feed: None plus a reason.
    """
    spec = (spec or "").strip()
    if not spec:
        return None, "no version given"
    if "*" in spec:
        return None, f"floating version {spec!r} depends on the feed"
    if "$(" in spec:
        return None, f"MSBuild property {spec!r} could not be resolved"
    match = _RANGE.fullmatch(spec)
    if match:
        low = match.group("low")
        if not low:
            return None, f"range {spec!r} has no lower bound"
        if match.group("open") == "(":
            return None, f"range {spec!r} has an exclusive lower bound"
        version = try_parse(low)
        return (version, "") if version else (None, f"invalid version {low!r} in {spec!r}")
    version = try_parse(spec)
    return (version, "") if version else (None, f"invalid version {spec!r}")
