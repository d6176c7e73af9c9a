"""Version stamping and the build copy.

Every build runs in a private copy of the source tree, so the user's tree stays byte-for-
byte unchanged (no bin/, obj/, no rewritten AssemblyInfo.cs) whatever the tool.

* SDK-style projects get the version as MSBuild properties (Version, AssemblyVersion,
  FileVersion, InformationalVersion); the SDK generates the attributes.
* Classic projects ignore those properties: in the copy, the three version attributes in
  their .cs files are blanked out on the same line (line numbers of diagnostics stay
  right) and a generated `B2Release.AssemblyVersion.g.cs` is added to each project as a
  Compile item.

Versions: AssemblyVersion and AssemblyFileVersion are X.Y.Z.0 (four numeric parts, as the
CLR and Windows' version resource require), AssemblyInformationalVersion is the full
semantic version including pre-release and build metadata.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from b2release.errors import InputError
from b2release.fsutil import sha256_file
from b2release.toolchains.discovery import BuildInput

GENERATED_NAME = "B2Release.AssemblyVersion.g.cs"
# Folders that are build output or tool state, never build input.
_SKIP_DIRS = {"bin", "obj", ".git", ".vs", ".hg", ".svn", "TestResults", "node_modules", "__pycache__",
              ".venv", ".tox", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".idea"}
_VERSION_ATTR = re.compile(
    r"\[\s*assembly\s*:\s*(?:global::)?(?:System\.Reflection\.)?"
    r"Assembly(?:File|Informational)?Version(?:Attribute)?\s*\((?:[^()\"]|\"(?:[^\"\\]|\\.)*\")*\)\s*\]"
)


@dataclass(frozen=True)
class Versions:
    semver: str  # 1.2.3-rc.1+build.5
    numeric: str  # 1.2.3.0

    @classmethod
    def from_semver(cls, version: str) -> Versions:
        import semver

        v = semver.Version.parse(version)
        return cls(semver=version, numeric=f"{v.major}.{v.minor}.{v.patch}.0")

    def properties(self) -> list[tuple[str, str]]:
        """MSBuild properties the .NET SDK turns into the assembly attributes."""
        return [
            ("Version", self.semver),
            ("AssemblyVersion", self.numeric),
            ("FileVersion", self.numeric),
            ("InformationalVersion", self.semver),
            # The SDK (8+) appends "+<commit>" to InformationalVersion; we stamp exactly what was asked.
            ("IncludeSourceRevisionInInformationalVersion", "false"),
        ]


def numeric_range_problem(version: str) -> str | None:
    """AssemblyVersion parts are 16-bit: 70000.0.0 is a valid semver but not a .NET version."""
    import semver

    v = semver.Version.parse(version)
    for part, value in (("major", v.major), ("minor", v.minor), ("patch", v.patch)):
        if value > 65534:
            return f"{part} part {value} exceeds 65534, the largest AssemblyVersion part"
    return None


def make_copy(build: BuildInput, dest: Path, exclude: list[Path]) -> Path:
    """Copy the tree under build.copy_root() to dest; return the copy of the entry file."""
    root = build.copy_root()
    excluded = {p.resolve() for p in exclude}

    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n in _SKIP_DIRS and os.path.isdir(os.path.join(folder, n))}
        for n in names:
            if Path(folder, n).resolve() in excluded:
                skip.add(n)
        return skip

    shutil.copytree(root, dest, symlinks=True, ignore=ignore)
    return dest / build.entry.relative_to(root)


def source_digest(build: BuildInput, exclude: list[Path]) -> str:
    """sha256 over exactly what `make_copy` would copy: every file's path and content (a
    symlink's target), so a changed byte anywhere the build reads changes it, while a file
    under bin/ or obj/ (or the work dir) does not. For `release` to tell an unchanged source
    tree from a changed one (stages/uptodate.py); the contents, not mtimes: a checkout or a
    restored cache must not look changed, an edit within the same second must."""
    root = build.copy_root()
    excluded = {p.resolve() for p in exclude}
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        entries, walk = list(files), []
        for name in sorted(dirs):
            full = os.path.join(folder, name)
            if name in _SKIP_DIRS or Path(full).resolve() in excluded:
                continue
            (entries if os.path.islink(full) else walk).append(name)  # a linked folder is copied as a link
        dirs[:] = walk
        for name in sorted(entries):
            full = Path(folder, name)
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():
                digest.update(f"L {rel}\0{os.readlink(full)}\0".encode())
            elif full.resolve() not in excluded:
                file_digest, size = sha256_file(full)
                digest.update(f"F {rel}\0{size}\0{file_digest}\0".encode())
    return digest.hexdigest()


def _csharp_literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def generated_source(versions: Versions) -> str:
    return (
        "// <auto-generated> by b2release: the release version of this build. </auto-generated>\n"
        f"[assembly: global::System.Reflection.AssemblyVersion({_csharp_literal(versions.numeric)})]\n"
        f"[assembly: global::System.Reflection.AssemblyFileVersion({_csharp_literal(versions.numeric)})]\n"
        f"[assembly: global::System.Reflection.AssemblyInformationalVersion({_csharp_literal(versions.semver)})]\n"
    )


def blank_version_attributes(text: str) -> tuple[str, int]:
    """Replace the version attributes by a same-line comment; returns (text, count)."""
    return _VERSION_ATTR.subn("/* version stamped by b2release */", text)


def stamp_classic_projects(build: BuildInput, copy_root: Path, versions: Versions) -> list[str]:
    """In the copy: blank existing version attributes, add the generated file to each project.

    Returns the copied files that were changed (relative to the copy), for the log.
    """
    original_root = build.copy_root()
    changed: list[str] = []
    for project in build.projects:
        if project.sdk_style or project.path.suffix.lower() != ".csproj":
            continue
        proj_copy = copy_root / project.path.relative_to(original_root)
        for cs in sorted(proj_copy.parent.rglob("*.cs")):
            if any(part in _SKIP_DIRS for part in cs.relative_to(proj_copy.parent).parts):
                continue
            raw = cs.read_bytes()
            text = raw.decode("utf-8-sig", errors="surrogateescape")
            new, count = blank_version_attributes(text)
            if count:
                bom = b"\xef\xbb\xbf" if raw.startswith(b"\xef\xbb\xbf") else b""
                cs.write_bytes(bom + new.encode("utf-8", errors="surrogateescape"))
                changed.append(cs.relative_to(copy_root).as_posix())
        (proj_copy.parent / GENERATED_NAME).write_text(generated_source(versions), encoding="utf-8")
        _add_compile_item(proj_copy)
        changed.append(proj_copy.relative_to(copy_root).as_posix())
    return changed


def _add_compile_item(csproj: Path) -> None:
    # A text insertion before </Project> keeps the rest of the file exactly as written
    # (an XML round trip would reformat it and drop comments).
    text = csproj.read_text(encoding="utf-8-sig")
    idx = text.rfind("</Project>")
    if idx < 0:
        raise InputError(f"{csproj.name}: no closing </Project> tag")
    item = f'  <ItemGroup>\n    <Compile Include="{GENERATED_NAME}" />\n  </ItemGroup>\n'
    csproj.write_text(text[:idx] + item + text[idx:], encoding="utf-8")
