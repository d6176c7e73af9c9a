"""What of the build tool's output folder ships, and why each other file does not.

The build's output folder is the project's real output: the assemblies, what
`CopyToOutputDirectory` and content items put there (settings files, `x86/`/`x64/`
native folders), `CopyLocal` references with their `.xml` docs and symbols, satellite
assemblies in culture folders (`de/X.resources.dll`). All of it ships, except what must
never ship, each dropped with a reason (`Dropped`), in this order:

| rule | what | why |
|---|---|---|
| `obj` | anything under `obj/` | intermediate files of the build |
| `ref-folder` | `ref/`, `refint/` at the top | the .NET SDK's reference assemblies |
| `vshost` | `*.vshost.exe`, `*.vshost.exe.config`, `*.vshost.exe.manifest` | Visual Studio's hosting process |
| `code-analysis` | `*.CodeAnalysisLog.xml`, `*.lastcodeanalysissucceeded` | build logs |
| `test-framework` | NUnit, xUnit, MSTest, VSTest, testhost assemblies (by name) | test frameworks |
| `test-assembly` | the assembly of a test project, or any assembly referencing a test framework | tests |
| `test-output` | a file only test projects wrote into the output folder (their file lists in `obj/`) | tests' data |
| `reference-assembly` | an assembly marked `[assembly: ReferenceAssembly]` | metadata only, cannot run |
| `framework-copy` | a byte-identical copy of a framework reference / GAC assembly | part of the framework |
| `companion` | `.pdb`, `.mdb`, `.xml`, `.config`, `.deps.json`, satellites of a dropped assembly | belong to it |
| `symbols` | `.pdb` / `.mdb` when `[build] symbols = false` | configured |
| `include` | files matching none of `[build] include` (when set) | configured |
| `exclude` | files matching one of `[build] exclude` | configured |

`include` / `exclude` adjust what ships; they cannot bring back a file the rules above
drop. Globs match the path relative to the output folder, case-insensitively: `*` and `?`
stay within one folder, `**` spans folders, a pattern without `/` matches the file name
in any folder, and a trailing `/` means everything below that folder.
"""

from __future__ import annotations

import filecmp
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from b2release.toolchains import assemblies
from b2release.toolchains.testprojects import FRAMEWORK_ASSEMBLIES

# Test frameworks, runners and adapters, by assembly file stem (lower case, fnmatch).
TEST_FRAMEWORK_STEMS = (
    "nunit.*", "nunit3.*", "nunitlite", "xunit", "xunit.*", "mstest.*", "testhost", "testhost.*",
    "microsoft.visualstudio.testplatform.*", "microsoft.visualstudio.qualitytools.*",
    "microsoft.visualstudio.codecoverage.*", "microsoft.testplatform.*", "microsoft.codecoverage.*",
)
_ASSEMBLY_SUFFIXES = (".dll", ".exe")
_COMPANION_SUFFIXES = (".pdb", ".xml", ".dll.config", ".exe.config", ".dll.mdb", ".exe.mdb", ".deps.json",
                       ".runtimeconfig.json", ".runtimeconfig.dev.json", ".exe.manifest", ".dll.manifest")


@dataclass(frozen=True)
class Dropped:
    name: str  # relative to the output folder
    rule: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "rule": self.rule, "reason": self.reason}


@dataclass
class Selection:
    kept: list[tuple[str, Path]] = field(default_factory=list)  # (name, file)
    dropped: list[Dropped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. an include pattern that matched nothing


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A [build] include/exclude glob as a regex over a relative POSIX path (see the docstring)."""
    pat = pattern.strip().replace("\\", "/")
    while pat.startswith("./"):
        pat = pat[2:]
    pat = pat.lstrip("/")
    if pat.endswith("/"):
        pat += "**"
    if "/" not in pat:
        pat = "**/" + pat
    out, i = [], 0
    while i < len(pat):
        if pat.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pat.startswith("**", i):
            out.append(".*")
            i += 2
        elif pat[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pat[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pat[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.IGNORECASE)


def is_test_framework(name: str) -> bool:
    stem = PurePosixPath(name).name.lower()
    if not stem.endswith(_ASSEMBLY_SUFFIXES):
        return False
    stem = stem[:-4]
    return any(fnmatch.fnmatchcase(stem, p) for p in TEST_FRAMEWORK_STEMS)


def _is_reference_copy(path: Path, reference_dirs: list[Path]) -> Path | None:
    """The framework reference / GAC assembly this file is a byte-identical copy of."""
    name = path.name
    for base in reference_dirs:
        for pattern in (name, f"*/{name}", f"*/*/{name}", f"*/*/*/{name}"):
            for candidate in base.glob(pattern):
                if candidate.is_file() and filecmp.cmp(candidate, path, shallow=False):
                    return candidate
    return None


def _path_rule(rel: str) -> tuple[str, str] | None:
    lower = rel.lower()
    parts = lower.split("/")
    if "obj" in parts[:-1]:
        return "obj", "intermediate build file (obj/)"
    if parts[0] in ("ref", "refint") and len(parts) > 1:
        return "ref-folder", f"reference assembly folder of the .NET SDK ({parts[0]}/)"
    if lower.endswith((".vshost.exe", ".vshost.exe.config", ".vshost.exe.manifest")):
        return "vshost", "Visual Studio hosting process"
    if lower.endswith((".codeanalysislog.xml", ".lastcodeanalysissucceeded")):
        return "code-analysis", "code analysis log"
    return None


def _assembly_rule(path: Path, rel: str, test_assemblies: dict[str, str],
                   reference_dirs: list[Path]) -> tuple[str, str] | None:
    if is_test_framework(rel):
        return "test-framework", "test framework assembly"
    stem = PurePosixPath(rel).name[:-4].lower()
    if stem in test_assemblies:
        return "test-assembly", f"test assembly of test project {test_assemblies[stem]}"
    info = assemblies.read(path)
    if info is not None:
        for ref in info.references:
            if ref.name.lower() in FRAMEWORK_ASSEMBLIES:
                return "test-assembly", f"test assembly (references {ref.name} {ref.version})"
        if info.reference_assembly:
            return "reference-assembly", "reference assembly ([assembly: ReferenceAssembly]): metadata only, cannot run"
    original = _is_reference_copy(path, reference_dirs)
    if original is not None:
        return "framework-copy", f"copy of the framework assembly {original}"
    return None


def files_written(project: Path, out_dir: Path) -> set[str]:
    """Files under out_dir that the built project (in the build copy) says it wrote there.

    MSBuild keeps `obj/.../<project file>.FileListAbsolute.txt` (every file it wrote, for
    incremental clean), xbuild `<project file>.FilesWrittenAbsolute.txt` (without copied
    references).
    """
    out = out_dir.resolve()
    written: set[str] = set()
    obj = project.parent / "obj"
    if not obj.is_dir():
        return written
    for listing in [*obj.rglob(f"{project.name}.FileListAbsolute.txt"),
                    *obj.rglob(f"{project.name}.FilesWrittenAbsolute.txt")]:
        try:
            lines = listing.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            path = Path(line.strip().replace("\\", "/"))
            if not line.strip() or not path.is_absolute():
                continue
            try:
                written.add(path.resolve().relative_to(out).as_posix())
            except ValueError:
                continue
    return written


def _companion_of(rel: str, dropped_assemblies: dict[str, str]) -> str | None:
    """The dropped assembly `rel` belongs to (its symbols, docs, config, satellites), if any."""
    path = PurePosixPath(rel.lower())
    for suffix in _COMPANION_SUFFIXES:
        if path.name.endswith(suffix):
            stem = path.name[: -len(suffix)]
            for ext in _ASSEMBLY_SUFFIXES:
                owner = str(path.parent / (stem + ext)) if str(path.parent) != "." else stem + ext
                if owner in dropped_assemblies:
                    return dropped_assemblies[owner]
    if path.name.endswith(".resources.dll") and len(path.parts) >= 2:
        stem = path.name[: -len(".resources.dll")]
        base = path.parent.parent
        for ext in _ASSEMBLY_SUFFIXES:
            owner = str(base / (stem + ext)) if str(base) != "." else stem + ext
            if owner in dropped_assemblies:
                return dropped_assemblies[owner]
    return None


def select(out_dir: Path, *, symbols: bool = True, reference_dirs: list[Path] | None = None,
           test_assemblies: dict[str, str] | None = None, test_outputs: dict[str, str] | None = None,
           include: list[str] | None = None, exclude: list[str] | None = None) -> Selection:
    """Split the files under out_dir into what ships and what is dropped (with reasons).

    `test_assemblies`: lower-case assembly name -> the test project it comes from;
    `test_outputs`: output path -> the test project that alone wrote it (`files_written`).
    """
    refs, tests, only_tests = reference_dirs or [], test_assemblies or {}, test_outputs or {}
    include, exclude = list(include or []), list(exclude or [])
    files = sorted(p for p in out_dir.rglob("*") if p.is_file()) if out_dir.is_dir() else []
    rels = [(p.relative_to(out_dir).as_posix(), p) for p in files]
    reasons: dict[str, tuple[str, str]] = {}
    for rel, path in rels:
        rule = _path_rule(rel)
        if rule is None and rel.lower().endswith(_ASSEMBLY_SUFFIXES):
            rule = _assembly_rule(path, rel, tests, refs)
        if rule is None and rel in only_tests:
            rule = "test-output", f"only test project {only_tests[rel]} put it into the output folder"
        if rule is not None:
            reasons[rel] = rule
    dropped_assemblies = {rel.lower(): rel for rel in reasons if rel.lower().endswith(_ASSEMBLY_SUFFIXES)}
    inc = [(p, glob_regex(p)) for p in include]
    exc = [(p, glob_regex(p)) for p in exclude]
    used: set[str] = set()
    selection = Selection()
    for rel, path in rels:
        rule = reasons.get(rel)
        if rule is None:
            owner = _companion_of(rel, dropped_assemblies)
            if owner is not None:
                rule = "companion", f"belongs to {owner}, which is dropped ({reasons[owner][1]})"
        lower = rel.lower()
        if rule is None and not symbols and lower.endswith((".pdb", ".mdb")):
            rule = "symbols", "symbols ([build] symbols = false)"
        if rule is None and inc:
            hits = [p for p, rx in inc if rx.match(rel)]
            used.update(hits)
            if not hits:
                rule = "include", "matches none of [build] include"
        if rule is None:
            hit = next((p for p, rx in exc if rx.match(rel)), None)
            if hit is not None:
                used.add(hit)
                rule = "exclude", f"matches [build] exclude {hit!r}"
        if rule is None:
            selection.kept.append((rel, path))
        else:
            selection.dropped.append(Dropped(rel, rule[0], rule[1]))
    for pattern in include + exclude:
        if pattern not in used:
            kind = "include" if pattern in include else "exclude"
            selection.notes.append(f"[build] {kind} pattern {pattern!r} matched no file of the build output")
    return selection
