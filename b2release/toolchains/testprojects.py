"""Test projects: which projects of a solution are tests, and the solution without them.

A project is a test project when its file says so, never because of its name:

* `<IsTestProject>true</IsTestProject>` (SDK-style test projects get it from
  Microsoft.NET.Test.Sdk; anyone may set it). An explicit `false` wins over everything
  below: a helper library that references NUnit but is not itself a test project;
* a reference to a test framework: `<Reference Include="nunit.framework">`,
  `xunit.core`, `Microsoft.VisualStudio.QualityTools.UnitTestFramework` or
  `Microsoft.VisualStudio.TestPlatform.TestFramework` (MSTest v1 / v2);
* a `PackageReference` (or a `packages.config` entry beside the project) to NUnit, xunit,
  xunit.core, MSTest.TestFramework, MSTest or Microsoft.NET.Test.Sdk;
* the classic test project type (`ProjectTypeGuids` holding
  {3AC096D0-A1C2-E12C-1390-A8335801FDAB}) or the Test Explorer service item
  ({82A7F48D-3B50-4B1E-B82E-3ADA8210C358}).

The build stage builds the solution without its test projects (`solution_without`), and
the test stage builds exactly those.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from b2release.errors import InputError
from b2release.toolchains.discovery import BuildInput, ProjectFile, project_references

NUNIT, XUNIT, MSTEST = "nunit", "xunit", "mstest"
# Assembly names of the test frameworks a test assembly references (case-insensitive).
FRAMEWORK_ASSEMBLIES = {
    "nunit.framework": NUNIT,
    "xunit.core": XUNIT,
    "xunit": XUNIT,  # xUnit.net 1.x
    "xunit.v3.core": XUNIT,
    "microsoft.visualstudio.qualitytools.unittestframework": MSTEST,
    "microsoft.visualstudio.testplatform.testframework": MSTEST,
}
# NuGet package ids that make a project a test project; None: a test SDK, not a framework.
TEST_PACKAGES: dict[str, str | None] = {
    "nunit": NUNIT,
    "xunit": XUNIT,
    "xunit.core": XUNIT,
    "xunit.v3": XUNIT,
    "mstest.testframework": MSTEST,
    "mstest": MSTEST,
    "microsoft.net.test.sdk": None,
}
_TEST_PROJECT_TYPE = "3AC096D0-A1C2-E12C-1390-A8335801FDAB"
_TEST_SERVICE = "82A7F48D-3B50-4B1E-B82E-3ADA8210C358"
_SLN_BLOCK = re.compile(
    r'^Project\("\{[^}]*\}"\)\s*=\s*"[^"]*",\s*"(?P<path>[^"]*)",\s*"\{(?P<guid>[^}]*)\}"[^\n]*\n'
    r"(?:.*\n)*?EndProject[ \t]*\r?\n",
    re.MULTILINE,
)


@dataclass(frozen=True)
class TestProject:
    __test__ = False  # not a pytest test class
    path: Path  # the project file
    assembly_name: str
    sdk_style: bool
    frameworks: tuple[str, ...]  # nunit / xunit / mstest, as far as the project file tells
    evidence: str  # why it is a test project, for messages ("references nunit.framework")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _identity(include: str) -> str:
    """'nunit.framework, Version=2.6.4.0, Culture=neutral' -> 'nunit.framework'."""
    return include.split(",")[0].strip()


def assembly_name(path: Path, root: ET.Element | None = None) -> str:
    """The project's AssemblyName (its file name when unset or computed)."""
    root = root if root is not None else _parse(path)
    for el in root.iter():
        if _local(el.tag) == "AssemblyName" and el.text and el.text.strip():
            value = el.text.strip().replace("$(MSBuildProjectName)", path.stem)
            if "$(" not in value:
                return value
    return path.stem


def _parse(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputError(f"{path}: not a valid project file ({exc})") from exc
    except OSError as exc:
        raise InputError(f"cannot read project {path}: {exc.strerror}") from exc


def _packages_config(project: Path) -> list[str]:
    config = project.parent / "packages.config"
    if not config.is_file():
        return []
    try:
        root = ET.parse(config).getroot()
    except (ET.ParseError, OSError):
        return []
    return [el.get("id", "") for el in root.iter() if _local(el.tag) == "package"]


def detect(project: ProjectFile) -> TestProject | None:
    """The project as a TestProject, or None when it is not one (see the module docstring)."""
    root = _parse(project.path)
    frameworks: set[str] = set()
    evidence: list[str] = []
    explicit: bool | None = None
    for el in root.iter():
        tag = _local(el.tag)
        text = (el.text or "").strip()
        if tag == "IsTestProject" and text and "$(" not in text:
            explicit = text.lower() == "true"
        elif tag == "ProjectTypeGuids" and _TEST_PROJECT_TYPE in text.upper():
            evidence.append("the test project type in ProjectTypeGuids")
        elif tag == "Service" and _TEST_SERVICE in (el.get("Include") or "").upper():
            evidence.append("the Test Explorer service item")
        elif tag == "Reference" and el.get("Include"):
            name = _identity(el.get("Include", ""))
            if name.lower() in FRAMEWORK_ASSEMBLIES:
                frameworks.add(FRAMEWORK_ASSEMBLIES[name.lower()])
                evidence.append(f"a reference to {name}")
        elif tag == "PackageReference" and (el.get("Include") or el.get("Update")):
            package = (el.get("Include") or el.get("Update") or "").strip()
            if package.lower() in TEST_PACKAGES:
                framework = TEST_PACKAGES[package.lower()]
                if framework:
                    frameworks.add(framework)
                evidence.append(f"a PackageReference to {package}")
    for package in _packages_config(project.path):
        if package.lower() in TEST_PACKAGES:
            framework = TEST_PACKAGES[package.lower()]
            if framework:
                frameworks.add(framework)
            evidence.append(f"packages.config entry {package}")
    if explicit is False:
        return None
    if explicit:
        evidence.insert(0, "IsTestProject=true")
    if not evidence:
        return None
    return TestProject(path=project.path, assembly_name=assembly_name(project.path, root),
                       sdk_style=project.sdk_style, frameworks=tuple(sorted(frameworks)), evidence=evidence[0])


def find(projects: list[ProjectFile]) -> list[TestProject]:
    """The test projects among `projects`, in their order."""
    return [t for t in (detect(p) for p in projects) if t is not None]


def referenced_by_product(build: BuildInput, tests: list[TestProject]) -> set[Path]:
    """Test projects that a non-test project of the build references (directly or not).

    Such a test project stays in the solution build (the referencing project needs it; a
    solution build resolves project references through the solution), and its outputs are
    dropped from what ships by toolchains.outputs instead.
    """
    test_paths = {t.path for t in tests}
    return test_paths & reachable([p.path for p in build.projects if p.path not in test_paths])


def reachable(start: list[Path]) -> set[Path]:
    """The projects in `start` and every project they reference, directly or not."""
    queue, seen = list(start), set()
    while queue:
        path = queue.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        queue.extend(project_references(path))
    return seen


def solution_without(text: str, sln_dir: Path, remove: set[Path]) -> tuple[str, list[str]]:
    """The .sln text without the projects in `remove` (resolved paths); (text, removed names).

    Their `Project ... EndProject` blocks go, and so does every other line naming their
    GUID (configuration mappings, nesting, build dependencies), so neither msbuild nor
    xbuild warns about a project it cannot find.
    """
    wanted = {p.resolve() for p in remove}
    guids: set[str] = set()
    removed: list[str] = []

    def drop(match: re.Match) -> str:
        path = (sln_dir / match.group("path").replace("\\", "/")).resolve()
        if path in wanted:
            guids.add(match.group("guid").upper())
            removed.append(path.name)
            return ""
        return match.group(0)

    text = _SLN_BLOCK.sub(drop, text)
    if guids:
        lines = text.splitlines(keepends=True)
        text = "".join(line for line in lines if not any(g in line.upper() for g in guids))
    return text, removed
