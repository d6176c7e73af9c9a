"""Inventory of the NuGet packages of a .NET source tree.

Sources, from the most to the least authoritative per project folder:
- `obj/project.assets.json` (restore's resolved graph: direct and transitive);
- `packages.lock.json` (Direct / Transitive / CentralTransitive);
- `PackageReference` items in *.csproj, with versions from Central Package Management
  (`Directory.Packages.props`, nearest one above the project) when the item has none;
- `packages.config` (classic projects: every entry is direct).

A PackageReference whose project also has a lock or assets file takes the resolved
version from there (the declared one is only a lower bound). Each (id, version) appears
once, with every file that declared it and whether any of them made it direct.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from b2release.errors import InputError
from b2release.scanners.nuget_version import resolve_requested, try_parse

# Folders that never hold project inputs; "packages" is the packages.config restore
# folder (its nuspecs are read by the licence lookup, not inventoried).
SKIP_DIRS = {".git", ".vs", ".svn", "node_modules", "bin", "packages", "TestResults", ".b2release"}
PROJECT_SUFFIXES = (".csproj", ".vbproj", ".fsproj")


@dataclass
class Package:
    id: str
    version: str  # normalised NuGet version
    direct: bool = False
    declared_in: set[str] = field(default_factory=set)  # source-relative POSIX paths
    dependencies: set[str] = field(default_factory=set)  # keys of packages this one depends on
    lines: dict[str, int] = field(default_factory=dict)  # declared_in path -> line of the declaration

    @property
    def key(self) -> str:
        return package_key(self.id, self.version)

    @property
    def purl(self) -> str:
        return f"pkg:nuget/{self.id}@{self.version}"

    def location(self) -> tuple[str, int | None]:
        """The first declaring file (sorted) and the line there, for reports and SARIF."""
        path = sorted(self.declared_in)[0] if self.declared_in else ""
        return path, self.lines.get(path)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "version": self.version,
            "direct": self.direct,
            "declared_in": sorted(self.declared_in),
            "purl": self.purl,
        }


def package_key(pkg_id: str, version: str) -> str:
    return f"{pkg_id.lower()}@{version.lower()}"


@dataclass
class Inventory:
    root: Path
    packages: dict[str, Package] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # warnings: unresolved versions, unreadable files
    project_files: list[str] = field(default_factory=list)
    packages_config_dirs: list[Path] = field(default_factory=list)
    package_folders: list[Path] = field(default_factory=list)  # from project.assets.json

    def add(self, pkg_id: str, version: str, *, direct: bool, declared_in: str, line: int | None = None) -> Package:
        parsed = try_parse(version)
        norm = parsed.normalized() if parsed else version
        if parsed is None:
            self.notes.append(f"{declared_in}: {pkg_id} has an invalid NuGet version {version!r}; not checked")
        key = package_key(pkg_id, norm)
        pkg = self.packages.get(key)
        if pkg is None:
            pkg = self.packages[key] = Package(pkg_id, norm)
        pkg.direct = pkg.direct or direct
        pkg.declared_in.add(declared_in)
        if line is not None and declared_in not in pkg.lines:
            pkg.lines[declared_in] = line
        return pkg

    def sorted(self) -> list[Package]:
        def order(p: Package) -> tuple:
            parsed = try_parse(p.version)
            return (p.id.lower(), parsed is None, parsed._key() if parsed else (), p.version)

        return sorted(self.packages.values(), key=order)


# --- helpers ------------------------------------------------------------------------------
def _strip_ns(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_xml(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputError(f"{path}: not well-formed XML ({exc})") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def _load_json(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected a JSON object")
    return doc


def _line_of(path: Path, needle: str) -> int | None:
    """1-based line of the first case-insensitive occurrence of `"needle"` (an id in quotes)."""
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError:
        return None
    quoted = re.compile(r"[\"']" + re.escape(needle) + r"[\"'/]", re.IGNORECASE)
    for number, line in enumerate(text.splitlines(), 1):
        if quoted.search(line):
            return number
    return None


def _attr(elem: ET.Element, name: str) -> str | None:
    """An attribute or child element value (MSBuild allows both), case-insensitively."""
    for key, value in elem.attrib.items():
        if key.lower() == name.lower():
            return value
    for child in elem:
        if _strip_ns(child.tag).lower() == name.lower():
            return (child.text or "").strip()
    return None


def _properties(root: ET.Element) -> dict[str, str]:
    props: dict[str, str] = {}
    for group in root.iter():
        if _strip_ns(group.tag) != "PropertyGroup":
            continue
        for prop in group:
            if prop.text and prop.text.strip():
                props[_strip_ns(prop.tag).lower()] = prop.text.strip()
    return props


def _expand(value: str | None, props: dict[str, str]) -> str | None:
    if value is None:
        return None
    return re.sub(r"\$\(([A-Za-z0-9_.-]+)\)", lambda m: props.get(m.group(1).lower(), m.group(0)), value)


def walk(root: Path, exclude: list[Path] | None = None):
    """Files under root, sorted, skipping SKIP_DIRS and any excluded folder (the work dir)."""
    excluded = {p.resolve() for p in (exclude or [])}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if d not in SKIP_DIRS and (here / d).resolve() not in excluded
        )
        for name in sorted(filenames):
            yield here / name


# --- the parsers ----------------------------------------------------------------------------
def _read_packages_config(inv: Inventory, path: Path, rel: str) -> None:
    root = _parse_xml(path)
    inv.packages_config_dirs.append(path.parent)
    for elem in root.iter():
        if _strip_ns(elem.tag) != "package":
            continue
        pkg_id, version = elem.get("id"), elem.get("version")
        if not pkg_id or not version:
            inv.notes.append(f"{rel}: a <package> entry without id or version was ignored")
            continue
        inv.add(pkg_id, version, direct=True, declared_in=rel, line=_line_of(path, pkg_id))


def _nearest(start: Path, root: Path, name: str) -> Path | None:
    current = start
    while True:
        candidate = current / name
        if candidate.is_file():
            return candidate
        if current == root or current.parent == current:
            return None
        current = current.parent


@dataclass
class _Central:
    versions: dict[str, str]  # lower id -> version spec
    rel: str
    path: Path
    global_refs: dict[str, str]  # id -> version spec


def _read_central(path: Path, rel: str) -> _Central:
    root = _parse_xml(path)
    props = _properties(root)
    versions: dict[str, str] = {}
    global_refs: dict[str, str] = {}
    for elem in root.iter():
        tag = _strip_ns(elem.tag)
        if tag in ("PackageVersion", "GlobalPackageReference"):
            pkg_id = elem.get("Include") or elem.get("Update")
            version = _expand(_attr(elem, "Version"), props)
            if pkg_id and version:
                if tag == "PackageVersion":
                    versions[pkg_id.lower()] = version
                else:
                    global_refs[pkg_id] = version
    return _Central(versions, rel, path, global_refs)


@dataclass
class _Reference:
    id: str
    spec: str | None
    declared_in: str
    line: int | None
    path: Path


def _read_project(path: Path, rel: str, root_dir: Path, central_cache: dict[Path, _Central]) -> list[_Reference]:
    root = _parse_xml(path)
    props: dict[str, str] = {}
    build_props = _nearest(path.parent, root_dir, "Directory.Build.props")
    if build_props is not None:
        props.update(_properties(_parse_xml(build_props)))
    props.update(_properties(root))
    central: _Central | None = None
    cpm_path = _nearest(path.parent, root_dir, "Directory.Packages.props")
    if cpm_path is not None:
        if cpm_path not in central_cache:
            central_cache[cpm_path] = _read_central(cpm_path, cpm_path.relative_to(root_dir).as_posix())
        central = central_cache[cpm_path]
    refs: list[_Reference] = []
    for elem in root.iter():
        if _strip_ns(elem.tag) != "PackageReference":
            continue
        pkg_id = elem.get("Include") or elem.get("Update")
        if not pkg_id:
            continue
        spec = _expand(_attr(elem, "VersionOverride") or _attr(elem, "Version"), props)
        declared, line = rel, _line_of(path, pkg_id)
        if spec is None and central is not None and pkg_id.lower() in central.versions:
            spec = central.versions[pkg_id.lower()]
            # The version lives in Directory.Packages.props: that is where a fix goes.
            declared, line = central.rel, _line_of(central.path, pkg_id)
        refs.append(_Reference(pkg_id, spec, declared, line, path))
    if central is not None:
        for pkg_id, spec in sorted(central.global_refs.items()):
            refs.append(_Reference(pkg_id, spec, central.rel, _line_of(central.path, pkg_id), central.path))
    return refs


def _read_lock(inv: Inventory, path: Path, rel: str) -> set[str]:
    doc = _load_json(path)
    seen: set[str] = set()
    frameworks = doc.get("dependencies")
    if not isinstance(frameworks, dict):
        raise InputError(f"{path}: no 'dependencies' object; not a packages.lock.json")
    for deps in frameworks.values():
        if not isinstance(deps, dict):
            continue
        resolved_by_id = {name.lower(): info.get("resolved") for name, info in deps.items() if isinstance(info, dict)}
        for name, info in sorted(deps.items()):
            if not isinstance(info, dict) or info.get("type") == "Project":
                continue
            version = info.get("resolved")
            if not version:
                inv.notes.append(f"{rel}: {name} has no resolved version")
                continue
            direct = info.get("type") == "Direct"
            pkg = inv.add(name, version, direct=direct, declared_in=rel, line=_line_of(path, name))
            seen.add(name.lower())
            for dep_name in sorted(info.get("dependencies") or {}):
                dep_version = resolved_by_id.get(dep_name.lower())
                parsed = try_parse(dep_version) if dep_version else None
                if parsed:
                    pkg.dependencies.add(package_key(dep_name, parsed.normalized()))
    return seen


def _read_assets(inv: Inventory, path: Path, rel: str) -> set[str]:
    doc = _load_json(path)
    targets = doc.get("targets")
    if not isinstance(targets, dict):
        raise InputError(f"{path}: no 'targets' object; not a project.assets.json")
    direct: set[str] = set()
    frameworks = (doc.get("project") or {}).get("frameworks") or {}
    for fw in frameworks.values():
        for name, dep in ((fw or {}).get("dependencies") or {}).items():
            if isinstance(dep, dict) and dep.get("target", "Package") == "Package":
                direct.add(name.lower())
    for folder in sorted(doc.get("packageFolders") or {}):
        inv.package_folders.append(Path(folder))
    seen: set[str] = set()
    for graph in targets.values():
        if not isinstance(graph, dict):
            continue
        versions = {}
        for entry in graph:
            name, _, version = entry.partition("/")
            versions[name.lower()] = version
        for entry, info in sorted(graph.items()):
            if not isinstance(info, dict) or info.get("type", "package") != "package":
                continue
            name, _, version = entry.partition("/")
            if not version:
                continue
            pkg = inv.add(name, version, direct=name.lower() in direct, declared_in=rel)
            seen.add(name.lower())
            for dep_name in sorted(info.get("dependencies") or {}):
                parsed = try_parse(versions.get(dep_name.lower()))
                if parsed:
                    pkg.dependencies.add(package_key(dep_name, parsed.normalized()))
    return seen


def collect(root: Path, exclude: list[Path] | None = None) -> Inventory:
    """Walk a source tree and inventory its NuGet packages."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"source tree {root} does not exist or is not a folder")
    inv = Inventory(root=root)
    projects: list[Path] = []
    resolved: dict[Path, set[str]] = {}  # project folder -> ids resolved by lock/assets files
    for path in walk(root, exclude):
        rel = path.relative_to(root).as_posix()
        name = path.name.lower()
        if name == "packages.config":
            _read_packages_config(inv, path, rel)
        elif name.endswith(PROJECT_SUFFIXES):
            projects.append(path)
            inv.project_files.append(rel)
        elif name == "packages.lock.json":
            resolved.setdefault(path.parent, set()).update(_read_lock(inv, path, rel))
        elif name == "project.assets.json" and path.parent.name == "obj":
            resolved.setdefault(path.parent.parent, set()).update(_read_assets(inv, path, rel))
    central_cache: dict[Path, _Central] = {}
    for project in projects:
        rel = project.relative_to(root).as_posix()
        for ref in _read_project(project, rel, root, central_cache):
            if ref.id.lower() in resolved.get(project.parent, set()):
                # Restore resolved it: mark the resolved package as declared here, directly.
                for pkg in inv.packages.values():
                    if pkg.id.lower() == ref.id.lower() and any(
                        (root / d).parent in (project.parent, project.parent / "obj") for d in pkg.declared_in
                    ):
                        pkg.direct = True
                        pkg.declared_in.add(ref.declared_in)
                        if ref.line is not None:
                            pkg.lines.setdefault(ref.declared_in, ref.line)
                continue
            version, why = resolve_requested(ref.spec or "")
            if version is None:
                inv.notes.append(f"{ref.declared_in}: {ref.id}: {why}; not checked (restore the project to resolve it)")
                continue
            inv.add(ref.id, version.normalized(), direct=True, declared_in=ref.declared_in, line=ref.line)
    return inv
