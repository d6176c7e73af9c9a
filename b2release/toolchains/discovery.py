"""What is being built (solution / projects, SDK-style or classic) and with which tool.

`auto` prefers msbuild (PATH, or vswhere on Windows), then dotnet for SDK-style projects,
then Mono's xbuild for classic projects. An explicit tool that is not installed is a tool
error (exit 3) with an install hint; a combination that cannot work (xbuild on an
SDK-style project, dotnet on a classic one) is a usage error (exit 2) with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from b2release.errors import InputError, ToolMissingError, UsageError
from b2release.process import vswhere_find

TOOLS = ("msbuild", "dotnet", "xbuild")
PROJECT_SUFFIXES = (".csproj", ".vbproj", ".fsproj", ".proj")
SOLUTION_SUFFIX = ".sln"
# Solution folders are "projects" of this type in .sln files; they have no build.
_SOLUTION_FOLDER = "2150E333-8FDC-42A3-9474-1A3956D46DE8"
_SLN_PROJECT = re.compile(
    r'^Project\("\{(?P<type>[^}]+)\}"\)\s*=\s*"(?P<name>[^"]*)",\s*"(?P<path>[^"]*)"', re.MULTILINE
)
# Files the .NET SDK picks up from parent folders: a build copy must include them.
_SDK_PARENT_FILES = ("Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props",
                     "NuGet.config", "nuget.config", "global.json")

INSTALL_HINTS = {
    "msbuild": "install Visual Studio Build Tools (winget install Microsoft.VisualStudio.2022.BuildTools) "
               "or put MSBuild.exe on PATH",
    "dotnet": "install the .NET SDK (https://dotnet.microsoft.com/download; Debian/Ubuntu: "
              "apt-get install dotnet-sdk-8.0)",
    "xbuild": "install Mono (Debian/Ubuntu: sudo apt-get install mono-devel; macOS: brew install mono)",
}


@dataclass
class ProjectFile:
    path: Path
    sdk_style: bool
    extra_dirs: list[Path] = field(default_factory=list)  # folders outside the project folder it uses


@dataclass
class BuildInput:
    """The solution or project given to the build, and every project it builds."""

    entry: Path  # absolute path of the .sln or project file
    projects: list[ProjectFile]

    @property
    def is_solution(self) -> bool:
        return self.entry.suffix.lower() == SOLUTION_SUFFIX

    @property
    def sdk_style(self) -> bool:
        return any(p.sdk_style for p in self.projects)

    @property
    def classic(self) -> bool:
        return any(not p.sdk_style for p in self.projects)

    def copy_root(self) -> Path:
        """The smallest folder holding everything the build reads (copied for the build)."""
        dirs = [self.entry.parent] + [p.path.parent for p in self.projects]
        for p in self.projects:
            dirs.extend(p.extra_dirs)
        return Path(os.path.commonpath([str(d) for d in dirs]))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def inspect_project(path: Path) -> ProjectFile:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputError(f"{path}: not a valid project file ({exc})") from exc
    except OSError as exc:
        raise InputError(f"cannot read project {path}: {exc.strerror}") from exc
    if _local(root.tag) != "Project":
        raise InputError(f"{path}: not an MSBuild project (root element <{_local(root.tag)}>)")
    sdk_style = bool(root.get("Sdk")) or any(
        _local(el.tag) == "Sdk" or (_local(el.tag) == "Import" and el.get("Sdk")) for el in root.iter()
    )
    extra: list[Path] = []
    base = path.parent
    for el in root.iter():
        values = [el.get("Include"), el.get("Project")]
        if _local(el.tag) == "HintPath":
            values.append(el.text)
        for value in values:
            if not value or "$(" in value:
                continue
            for part in value.split(";"):
                part = part.strip().replace("\\", "/")
                if not part.startswith(".."):
                    continue
                # Drop wildcards: "../src/**/*.cs" needs "../src".
                fixed = []
                for piece in part.split("/"):
                    if any(c in piece for c in "*?"):
                        break
                    fixed.append(piece)
                target = (base / "/".join(fixed)).resolve()
                extra.append(target if target.is_dir() else target.parent)
    if sdk_style:
        extra.extend(_sdk_parent_files(path))
    return ProjectFile(path=path, sdk_style=sdk_style, extra_dirs=extra)


def _sdk_parent_files(path: Path) -> list[Path]:
    """Folders above the project that hold files the SDK imports implicitly."""
    found = []
    for parent in path.parent.parents:
        if any((parent / name).is_file() for name in _SDK_PARENT_FILES):
            found.append(parent)
        if (parent / ".git").exists():
            break
    return found


def solution_projects(sln: Path) -> list[Path]:
    try:
        text = sln.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read solution {sln}: {exc.strerror}") from exc
    out = []
    for m in _SLN_PROJECT.finditer(text):
        if m.group("type").upper() == _SOLUTION_FOLDER:
            continue
        rel = m.group("path").replace("\\", "/")
        if not rel.lower().endswith(PROJECT_SUFFIXES):
            continue  # web sites, database projects: not ours to judge
        out.append((sln.parent / rel).resolve())
    if not out:
        raise InputError(f"solution {sln} lists no projects")
    return out


def inspect(entry: Path) -> BuildInput:
    entry = Path(entry)
    if not entry.exists():
        raise InputError(f"project {entry} does not exist")
    if entry.is_dir():
        entry = find_entry(entry)
    entry = entry.resolve()
    suffix = entry.suffix.lower()
    if suffix == SOLUTION_SUFFIX:
        paths = solution_projects(entry)
    elif suffix in PROJECT_SUFFIXES:
        paths = [entry]
    else:
        raise InputError(f"{entry} is not a solution (.sln) or project file ({', '.join(PROJECT_SUFFIXES)})")
    projects: list[ProjectFile] = []
    seen: set[Path] = set()
    queue = list(paths)
    while queue:  # follow ProjectReferences so the copy holds them too
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        if not path.is_file():
            raise InputError(f"project {path} (listed by {entry.name}) does not exist")
        info = inspect_project(path)
        projects.append(info)
        queue.extend(project_references(path))
    return BuildInput(entry=entry, projects=projects)


def project_references(path: Path) -> list[Path]:
    refs = []
    for el in ET.parse(path).getroot().iter():
        if _local(el.tag) == "ProjectReference" and el.get("Include") and "$(" not in el.get("Include", ""):
            refs.append((path.parent / el.get("Include").replace("\\", "/")).resolve())
    return refs


def find_entry(folder: Path) -> Path:
    """A folder given as PROJECT: its one .sln, else its one project file."""
    for pattern in ("*.sln", "*.csproj", "*.vbproj", "*.fsproj"):
        found = sorted(folder.glob(pattern))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            raise UsageError(f"{folder} holds several {pattern} files ({names}); name the one to build")
    raise UsageError(
        f"no solution or project file in {folder}: pass PROJECT or set [product] project in b2release.toml"
    )


# --- tools ------------------------------------------------------------------------------
def _vswhere_msbuild() -> str | None:
    """MSBuild.exe of the newest Visual Studio / Build Tools, via vswhere (Windows)."""
    return vswhere_find("-requires", "Microsoft.Component.MSBuild", "-find", r"MSBuild\**\Bin\MSBuild.exe")


def find_tool(name: str) -> str | None:
    """Absolute path of a build tool, or None."""
    if name == "msbuild":
        return shutil.which("msbuild") or shutil.which("MSBuild.exe") or _vswhere_msbuild()
    return shutil.which(name)


def missing(name: str) -> ToolMissingError:
    return ToolMissingError(f"{name} is not installed (not found on PATH)", hint=INSTALL_HINTS[name])


def check_combination(tool: str, build: BuildInput) -> None:
    if tool == "xbuild" and build.sdk_style:
        sdk = next(p.path for p in build.projects if p.sdk_style)
        raise UsageError(
            f"xbuild cannot build SDK-style project {sdk.name} (<Project Sdk=...> needs the .NET SDK's MSBuild); "
            "use --tool dotnet or --tool msbuild"
        )
    if tool == "dotnet" and build.classic:
        classic = next(p.path for p in build.projects if not p.sdk_style)
        raise UsageError(
            f"dotnet builds SDK-style projects only and {classic.name} is a classic (non-SDK) project; "
            "use --tool msbuild or --tool xbuild"
        )


def choose(tool: str, build: BuildInput) -> tuple[str, str]:
    """(tool name, executable path) for the requested tool, or the error that explains why not."""
    if tool not in ("auto", *TOOLS):
        raise UsageError(f"unknown build tool {tool!r} (choose auto, {', '.join(TOOLS)})")
    if tool != "auto":
        path = find_tool(tool)
        if path is None:
            raise missing(tool)
        check_combination(tool, build)
        return tool, path
    candidates = ["msbuild"]
    candidates.append("dotnet" if build.sdk_style and not build.classic else "")
    candidates.append("xbuild" if not build.sdk_style else "")
    for name in filter(None, candidates):
        path = find_tool(name)
        if path is not None:
            return name, path
    if build.sdk_style:
        raise ToolMissingError(
            f"no build tool for SDK-style {build.entry.name}: neither msbuild nor dotnet is installed "
            "(xbuild cannot build SDK-style projects)",
            hint=INSTALL_HINTS["dotnet"],
        )
    raise ToolMissingError(
        f"no build tool for {build.entry.name}: none of msbuild, xbuild is installed",
        hint=f"{INSTALL_HINTS['xbuild']}; on Windows: {INSTALL_HINTS['msbuild']}",
    )
