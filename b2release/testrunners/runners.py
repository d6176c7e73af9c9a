"""Test runner adapters: which console runner runs a test assembly, and its command line.

| runner | runs | found as (besides PATH) | native result |
|---|---|---|---|
| `nunit-console` | NUnit 2.x | Debian's `nunit-console` (Mono); `packages/NUnit.Runners.2*/tools/` | NUnit 2.5 XML |
| `nunit3-console` | NUnit 3+ | `packages/NUnit.ConsoleRunner*/tools/`, the NuGet cache | NUnit 3 XML |
| `xunit` | xUnit.net v2 | `xunit.console(.exe)`, `packages/xunit.runner.console*/tools/net4*/` | xUnit v2 XML |
| `vstest` | MSTest, any adapter | `vstest.console(.exe)`, Visual Studio via vswhere | TRX |
| `dotnet` | SDK-style projects | `dotnet` (`dotnet test X.dll --logger trx`) | TRX |

`choose` picks, per test project: `dotnet` for SDK-style projects; else by the test
framework the built assembly references (NUnit 2 -> nunit-console, NUnit 3 ->
nunit3-console, xUnit -> xunit, MSTest -> vstest). A `.exe` runner runs through `mono`
off Windows. A runner that is not installed is a ToolMissingError (exit 3) with a hint.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from b2release.errors import ToolMissingError, UsageError
from b2release.process import vswhere_find

RUNNERS = ("nunit-console", "nunit3-console", "xunit", "vstest", "dotnet")
FORMATS = {"nunit-console": "nunit2", "nunit3-console": "nunit3", "xunit": "xunit2", "vstest": "trx", "dotnet": "trx"}
_NAMES = {
    "nunit-console": ("nunit-console", "nunit-console.exe"),
    "nunit3-console": ("nunit3-console", "nunit3-console.exe"),
    "xunit": ("xunit.console", "xunit.console.exe"),
    "vstest": ("vstest.console", "vstest.console.exe"),
    "dotnet": ("dotnet",),
}
# Where packages.config restores put console runners, relative to a solution's packages/ folder.
_PACKAGE_GLOBS = {
    "nunit-console": ("NUnit.Runners.2*/tools/nunit-console.exe", "NUnit.Console.2*/tools/nunit-console.exe"),
    "nunit3-console": ("NUnit.ConsoleRunner*/tools/nunit3-console.exe",),
    "xunit": ("xunit.runner.console*/tools/net4*/xunit.console.exe",),
}
HINTS = {
    "nunit-console": "install NUnit 2's console runner (Debian/Ubuntu: sudo apt-get install nunit-console; "
                     "Windows: nuget install NUnit.Runners -Version 2.7.1 -OutputDirectory packages)",
    "nunit3-console": "install NUnit 3's console runner (nuget install NUnit.ConsoleRunner -OutputDirectory packages, "
                      "or dotnet tool install --global NUnit.ConsoleRunner.NetCore)",
    "xunit": "install xUnit.net's console runner (nuget install xunit.runner.console -OutputDirectory packages)",
    "vstest": "install Visual Studio or the Build Tools with the testing tools (vstest.console.exe), "
              "or use --runner dotnet with the .NET SDK",
    "dotnet": "install the .NET SDK (https://dotnet.microsoft.com/download)",
}


@dataclass(frozen=True)
class Runner:
    name: str
    argv0: tuple[str, ...]  # the runner's command (["mono", "/x/nunit3-console.exe"] off Windows)

    @property
    def format(self) -> str:
        return FORMATS[self.name]

    def command(self, assembly: Path, result: Path) -> list[str]:
        """Run the tests of `assembly`, writing the native result file `result`."""
        head, asm = list(self.argv0), str(assembly)
        if self.name == "nunit-console":
            return head + [asm, f"-xml={result}", "-nologo", "-noshadow"]
        if self.name == "nunit3-console":
            return head + [asm, f"--result={result};format=nunit3", "--noheader"]
        if self.name == "xunit":
            return head + [asm, "-xml", str(result), "-nologo", "-noshadow"]
        if self.name == "vstest":
            return head + [asm, f"/Logger:trx;LogFileName={result.name}", f"/ResultsDirectory:{result.parent}"]
        return head + ["test", asm, "--logger", f"trx;LogFileName={result.name}", "--results-directory",
                       str(result.parent), "--nologo"]

    def env(self) -> dict[str, str]:
        if self.name == "dotnet":
            return {"DOTNET_CLI_TELEMETRY_OPTOUT": "1", "DOTNET_NOLOGO": "1", "DOTNET_SKIP_FIRST_TIME_EXPERIENCE": "1"}
        return {}


def _vswhere_vstest() -> str | None:
    return vswhere_find("-find", r"**\TestPlatform\vstest.console.exe")


def _in_packages(name: str, search: list[Path]) -> str | None:
    found: list[Path] = []
    for folder in search:
        for pattern in _PACKAGE_GLOBS.get(name, ()):
            found.extend(p for p in folder.glob(pattern) if p.is_file())
    return str(sorted(found)[-1]) if found else None  # the highest version by name


def _nuget_cache() -> list[Path]:
    root = os.environ.get("NUGET_PACKAGES") or str(Path.home() / ".nuget" / "packages")
    cache = Path(root)
    return [cache / "nunit.consolerunner" / v for v in sorted(os.listdir(cache / "nunit.consolerunner"))] \
        if (cache / "nunit.consolerunner").is_dir() else []


def find(name: str, packages: list[Path] | None = None) -> Runner:
    """The runner `name`, installed on PATH or restored into a packages/ folder; else ToolMissingError."""
    if name not in RUNNERS:
        raise UsageError(f"unknown test runner {name!r} (choose auto, {', '.join(RUNNERS)})")
    path = next((p for p in (shutil.which(n) for n in _NAMES[name]) if p), None)
    if path is None and name == "vstest":
        path = _vswhere_vstest()
    if path is None:
        path = _in_packages(name, list(packages or []))
    if path is None and name == "nunit3-console":
        cached = [p / "tools" / "nunit3-console.exe" for p in _nuget_cache()]
        path = next((str(p) for p in reversed(cached) if p.is_file()), None)
    if path is None:
        raise ToolMissingError(f"{name} is not installed (not found on PATH or in a packages/ folder)",
                               hint=HINTS[name])
    if path.lower().endswith(".exe") and sys.platform != "win32":
        mono = shutil.which("mono")
        if mono is None:
            raise ToolMissingError(f"{name} ({path}) needs Mono to run off Windows, and mono is not installed",
                                   hint="install Mono (Debian/Ubuntu: sudo apt-get install mono-runtime)")
        return Runner(name, (mono, path))
    return Runner(name, (path,))


def choose(*, sdk_style: bool, framework: str | None, framework_major: int | None, project: str) -> str:
    """The runner for one test project (see the module docstring)."""
    if sdk_style:
        return "dotnet"
    if framework == "nunit":
        return "nunit3-console" if (framework_major or 3) >= 3 else "nunit-console"
    if framework == "xunit":
        return "xunit"
    if framework == "mstest":
        return "vstest"
    raise UsageError(f"cannot tell which test framework {project} uses (its assembly references none of NUnit, "
                     "xUnit.net, MSTest): set [test] runner or pass --runner")
