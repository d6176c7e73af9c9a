"""`.b2release-ignore.toml`: accepted risks, each with a reason and an expiry date.

    [[ignore]]
    id = "GHSA-5crp-9r3c-p9vr"          # advisory id or one of its aliases (CVE-...)
    reason = "not reachable: we never deserialise untrusted JSON"
    expires = 2027-03-31                 # TOML date (or "YYYY-MM-DD")
    package = "Newtonsoft.Json"          # optional: only for this package

An entry without a reason or an expiry is refused (exit 2): an ignore must say why and
must come back for review. An expired entry no longer hides its finding (the report
says it expired). Ignores apply to vulnerabilities only: a leaked secret always fails.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from b2release.errors import ConfigError

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]

FILE_NAME = ".b2release-ignore.toml"
_KNOWN = {"id", "reason", "expires", "package"}


@dataclass(frozen=True)
class IgnoreEntry:
    id: str
    reason: str
    expires: dt.date
    package: str | None = None

    def applies(self, ids: list[str], package_id: str) -> bool:
        if self.package and self.package.lower() != package_id.lower():
            return False
        return self.id.lower() in {i.lower() for i in ids}

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def to_dict(self) -> dict:
        doc = {"id": self.id, "reason": self.reason, "expires": self.expires.isoformat()}
        if self.package:
            doc["package"] = self.package
        return doc


def load(path: Path) -> list[IgnoreEntry]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"ignore file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read ignore file {path}: {exc.strerror}") from None
    unknown_top = set(data) - {"ignore"}
    if unknown_top:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown_top))}; use [[ignore]] tables")
    entries = data.get("ignore", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: 'ignore' must be an array of tables ([[ignore]])")
    out: list[IgnoreEntry] = []
    for index, entry in enumerate(entries, 1):
        where = f"{path}: [[ignore]] #{index}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a table")
        unknown = set(entry) - _KNOWN
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        rec_id = entry.get("id")
        if not isinstance(rec_id, str) or not rec_id.strip():
            raise ConfigError(f"{where}: 'id' (the advisory id) is required")
        where = f"{path}: ignore entry {rec_id}"
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(f"{where} has no reason; every ignore must say why the risk is accepted")
        expires = entry.get("expires")
        if expires is None:
            raise ConfigError(f"{where} has no expires date; every ignore must expire (expires = YYYY-MM-DD)")
        if isinstance(expires, dt.datetime):
            expires = expires.date()
        elif isinstance(expires, str):
            try:
                expires = dt.date.fromisoformat(expires.strip())
            except ValueError:
                raise ConfigError(f"{where}: expires {expires!r} is not a date (YYYY-MM-DD)") from None
        elif not isinstance(expires, dt.date):
            raise ConfigError(f"{where}: expires must be a date (YYYY-MM-DD)")
        package = entry.get("package")
        if package is not None and (not isinstance(package, str) or not package.strip()):
            raise ConfigError(f"{where}: package must be a package id")
        out.append(IgnoreEntry(rec_id.strip(), reason.strip(), expires, package.strip() if package else None))
    return out


def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()
