"""Licences: NuGet nuspecs, the tool's own Python environment, and the allow/deny policy.

NuGet: a package's nuspec `<license type="expression">` is an SPDX expression; a
`<license type="file">` or the deprecated `<licenseUrl>` carries no machine-readable
licence, so the package's licence is *unknown* (the URL is kept as a note). The nuspec
is looked up in the `packages/` folder of a packages.config solution (the folder next to
packages.config or above it, up to the source root), then in the NuGet global packages
folder (NUGET_PACKAGES, the folders project.assets.json names, ~/.nuget/packages).

Python: pip-licenses reports either an SPDX expression (PEP 639 License-Expression or a
licence field that parses as SPDX) or trove classifier names; classifier names map to
SPDX ids through CLASSIFIER_TO_SPDX. Names that do not map ("BSD License" names no
BSD variant) are *unknown*, which warns by default (`[scan] unknown_license = "warn"`).

Policy on an SPDX expression (see docs/scan.md): the expression is expanded into its
alternatives (OR = choose one, AND = all of them); the package is acceptable when one
alternative has no denied licence and, if an allow list is set, only allowed ones.
"""

from __future__ import annotations

import json
import os
import sys
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from b2release import process
from b2release.errors import ToolError, ToolMissingError
from b2release.scanners.nuget_version import try_parse

# Trove classifier names (as pip-licenses prints them) -> SPDX ids. Only unambiguous ones.
CLASSIFIER_TO_SPDX = {
    "mit license": "MIT",
    "mit no attribution license (mit-0)": "MIT-0",
    "apache software license": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "python software foundation license": "PSF-2.0",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    "isc license (iscl)": "ISC",
    "the unlicense (unlicense)": "Unlicense",
    "zero-clause bsd (0bsd)": "0BSD",
    "gnu general public license v2 (gplv2)": "GPL-2.0-only",
    "gnu general public license v3 (gplv3)": "GPL-3.0-only",
    "gnu general public license v2 or later (gplv2+)": "GPL-2.0-or-later",
    "gnu general public license v3 or later (gplv3+)": "GPL-3.0-or-later",
    "gnu lesser general public license v2 (lgplv2)": "LGPL-2.0-only",
    "gnu lesser general public license v3 (lgplv3)": "LGPL-3.0-only",
    "gnu lesser general public license v2 or later (lgplv2+)": "LGPL-2.0-or-later",
    "gnu lesser general public license v3 or later (lgplv3+)": "LGPL-3.0-or-later",
    "gnu affero general public license v3": "AGPL-3.0-only",
    "gnu affero general public license v3 or later (agplv3+)": "AGPL-3.0-or-later",
    "eclipse public license 2.0 (epl-2.0)": "EPL-2.0",
    "boost software license 1.0 (bsl-1.0)": "BSL-1.0",
    "zlib/libpng license": "Zlib",
}
# Classifier words that are not licences (pip-licenses joins all classifiers with "; ").
NOT_A_LICENSE = {"dfsg approved", "osi approved", "free for non-commercial use"}

ALLOWED, DENIED, NOT_ALLOWED, UNKNOWN = "allowed", "denied", "not-allowed", "unknown"


@dataclass
class LicenseInfo:
    expression: str | None  # SPDX, when known
    source: str  # nuspec-expression, nuspec-file, nuspec-licenseUrl, not-found, pip-licenses ...
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"expression": self.expression, "source": self.source}
        if self.note:
            doc["note"] = self.note
        return doc


@dataclass
class Verdict:
    status: str  # allowed | denied | not-allowed | unknown
    detail: str = ""
    offending: list[str] = field(default_factory=list)


@lru_cache(maxsize=1)
def _licensing():
    from license_expression import get_spdx_licensing  # lazy: loads the SPDX list

    return get_spdx_licensing()


def normalize(expression: str) -> tuple[str | None, list[str]]:
    """(canonical SPDX expression, unknown keys); (None, [...]) when it does not parse."""
    licensing = _licensing()
    try:
        info = licensing.validate(expression)
    except Exception:  # license_expression raises several types on garbage input
        return None, [expression]
    if info.errors and not info.invalid_symbols:
        return None, [expression]
    if info.invalid_symbols:
        return None, list(info.invalid_symbols)
    return info.normalized_expression, []


def _alternatives(node) -> list[frozenset[str]]:
    """Disjunctive normal form: each alternative is a set of licence keys to comply with."""
    from license_expression import AND, OR, LicenseSymbol, LicenseWithExceptionSymbol

    if isinstance(node, LicenseWithExceptionSymbol):
        return [frozenset({node.license_symbol.key})]
    if isinstance(node, LicenseSymbol):
        return [frozenset({node.key})]
    if isinstance(node, OR):
        out: list[frozenset[str]] = []
        for arg in node.args:
            out.extend(_alternatives(arg))
        return out
    if isinstance(node, AND):
        combos = [frozenset()]
        for arg in node.args:
            combos = [c | alt for c in combos for alt in _alternatives(arg)]
        return combos
    return [frozenset({str(node)})]


def _canon_ids(ids: Iterable[str]) -> set[str]:
    licensing = _licensing()
    out = set()
    for item in ids:
        try:
            out.add(licensing.parse(item).render().lower())
        except Exception:
            out.add(item.lower())
    return out


def evaluate(info: LicenseInfo, allow: list[str], deny: list[str]) -> Verdict:
    if not info.expression:
        return Verdict(UNKNOWN, info.note or "no machine-readable licence")
    normalized, unknown = normalize(info.expression)
    if normalized is None:
        return Verdict(UNKNOWN, f"not an SPDX expression ({', '.join(unknown)})")
    allow_set, deny_set = _canon_ids(allow), _canon_ids(deny)
    alternatives = _alternatives(_licensing().parse(normalized))
    offending: set[str] = set()
    any_denied_only = True
    for alt in alternatives:
        keys = {k.lower(): k for k in alt}
        denied = [keys[k] for k in keys if k in deny_set]
        not_allowed = [keys[k] for k in keys if allow_set and k not in allow_set]
        if not denied and not not_allowed:
            return Verdict(ALLOWED)
        offending.update(denied or not_allowed)
        any_denied_only = any_denied_only and bool(denied)
    if any_denied_only:
        return Verdict(DENIED, f"{normalized}: denied licence", sorted(offending))
    return Verdict(NOT_ALLOWED, f"{normalized}: not in licenses_allow", sorted(offending))


# --- NuGet nuspecs -----------------------------------------------------------------------------
def _nuspec_license(data: bytes, origin: str) -> LicenseInfo:
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return LicenseInfo(None, "nuspec-unreadable", f"{origin} is not well-formed XML")
    lic = url = None
    for elem in root.iter():
        tag = elem.tag.rsplit("}", 1)[-1]
        if tag == "license" and lic is None:
            lic = elem
        elif tag == "licenseUrl" and url is None:
            url = (elem.text or "").strip()
    if lic is not None:
        kind = (lic.get("type") or "").lower()
        text = (lic.text or "").strip()
        if kind == "expression" and text:
            return LicenseInfo(text, "nuspec-expression")
        return LicenseInfo(None, "nuspec-file", f"licence given as a file ({text or '?'}) in the package")
    if url:
        return LicenseInfo(None, "nuspec-licenseUrl", f"deprecated licenseUrl {url}")
    return LicenseInfo(None, "nuspec-none", "the nuspec names no licence")


def _from_folder(folder: Path, pkg_id: str) -> LicenseInfo | None:
    if not folder.is_dir():
        return None
    for candidate in sorted(folder.glob("*.nuspec")):
        # Only file names in notes: the report must not depend on where the cache lives.
        return _nuspec_license(candidate.read_bytes(), candidate.name)
    for nupkg in sorted(folder.glob("*.nupkg")):
        try:
            with zipfile.ZipFile(nupkg) as zf:
                for name in zf.namelist():
                    if "/" not in name and name.lower().endswith(".nuspec"):
                        return _nuspec_license(zf.read(name), f"{nupkg.name}!{name}")
        except (zipfile.BadZipFile, OSError):
            return LicenseInfo(None, "nuspec-unreadable", f"{nupkg.name} is not a readable package")
    return None


def global_packages_folders(extra: Iterable[Path] = ()) -> list[Path]:
    folders = list(extra)
    env = os.environ.get("NUGET_PACKAGES")
    if env:
        folders.append(Path(env))
    folders.append(Path.home() / ".nuget" / "packages")
    seen, out = set(), []
    for f in folders:
        if f not in seen:
            seen.add(f)
            out.append(f)
    return out


def nuget_license(pkg_id: str, version: str, solution_dirs: Iterable[Path],
                  global_folders: Iterable[Path]) -> LicenseInfo:
    """Licence of one NuGet package from the first nuspec found (see the module doc)."""
    for base in solution_dirs:
        for folder in (base / "packages" / f"{pkg_id}.{version}",):
            found = _from_folder(folder, pkg_id)
            if found:
                return found
        # packages.config restores folders named with the version as declared (1.0 vs 1.0.0).
        packages = base / "packages"
        if packages.is_dir():
            prefix = f"{pkg_id}.".lower()
            for folder in sorted(packages.iterdir()):
                name = folder.name.lower()
                if name.startswith(prefix) and _same_version(name[len(prefix):], version):
                    found = _from_folder(folder, pkg_id)
                    if found:
                        return found
    for root in global_folders:
        found = _from_folder(root / pkg_id.lower() / version.lower(), pkg_id)
        if found:
            return found
    return LicenseInfo(None, "not-found", "no nuspec found (restore the packages to check licences)")


def _same_version(a: str, b: str) -> bool:
    va, vb = try_parse(a), try_parse(b)
    return va is not None and vb is not None and va == vb


def solution_dirs(packages_config_dirs: Iterable[Path], root: Path) -> list[Path]:
    """Folders whose packages/ may hold a packages.config project's restored packages."""
    out: list[Path] = []
    root = root.resolve()
    for start in packages_config_dirs:
        current = start.resolve()
        while True:
            if current not in out:
                out.append(current)
            if current == root or current.parent == current:
                break
            current = current.parent
    return out


# --- the tool's own Python environment -----------------------------------------------------------
def python_environment() -> list[dict[str, str]]:
    """pip-licenses' view of the interpreter running b2release: [{name, version, license}]."""
    done = process.run([sys.executable, "-m", "piplicenses", "--format=json", "--from=mixed"],
                       what="listing the tool's own licences", timeout=120)
    if done.returncode != 0:
        if "No module named piplicenses" in done.stderr:
            raise ToolMissingError("pip-licenses is not installed in b2release's environment",
                                   hint="pip install pip-licenses")
        raise ToolError(f"pip-licenses failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    try:
        rows = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise ToolError("pip-licenses printed something that is not JSON") from None
    return [
        {"name": str(r.get("Name", "")), "version": str(r.get("Version", "")), "license": str(r.get("License", ""))}
        for r in rows
        if isinstance(r, dict)
    ]


def python_license(raw: str) -> LicenseInfo:
    """Map pip-licenses' licence text to SPDX (expression as is, else classifier names)."""
    raw = (raw or "").strip()
    if not raw or raw.upper() == "UNKNOWN":
        return LicenseInfo(None, "pip-licenses", "no licence metadata")
    if ";" not in raw:
        normalized, _ = normalize(raw)
        if normalized is not None:
            return LicenseInfo(normalized, "pip-licenses")
    ids: list[str] = []
    unmapped: list[str] = []
    for part in (p.strip() for p in raw.split(";")):
        if not part or part.lower() in NOT_A_LICENSE:
            continue
        spdx = CLASSIFIER_TO_SPDX.get(part.lower())
        if spdx is None:
            normalized, _ = normalize(part)
            spdx = normalized
        (ids if spdx else unmapped).append(spdx or part)
    if ids and not unmapped:
        # Several licence classifiers on one package mean "available under either".
        return LicenseInfo(" OR ".join(sorted(set(ids))), "pip-licenses", f"mapped from {raw!r}")
    return LicenseInfo(None, "pip-licenses", f"{raw!r} does not name an SPDX licence")
