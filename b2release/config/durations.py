"""Durations in config values and flags: '90s', '15m', '24h', '7d', '2w'."""

from __future__ import annotations

import re

from b2release.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# parse_duration's rule as an ECMA-262 pattern, for the JSON Schema (editors, validators): no zero.
DURATION_PATTERN = r"^\s*0*[1-9][0-9]*\s*[smhdw]\s*$"


def parse_duration(text: str, what: str) -> int:
    """'90s', '15m', '24h', '7d', '2w' -> seconds. `what` names the key or flag."""
    match = _DURATION.fullmatch(str(text))
    if not match or int(match.group(1)) <= 0:
        raise ConfigError(f"{what}: invalid duration {text!r} (use e.g. 30m, 24h, 7d)")
    return int(match.group(1)) * _UNITS[match.group(2)]
