"""Runner choice and discovery (the command lines are exercised by tests/stages/test_test.py)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from b2release.errors import ToolMissingError, UsageError
from b2release.testrunners import runners


@pytest.mark.parametrize(("sdk", "framework", "major", "runner"), [
    (True, "nunit", 3, "dotnet"),
    (False, "nunit", 2, "nunit-console"),
    (False, "nunit", 3, "nunit3-console"),
    (False, "nunit", 4, "nunit3-console"),
    (False, "nunit", None, "nunit3-console"),
    (False, "xunit", 2, "xunit"),
    (False, "mstest", 14, "vstest"),
])
def test_choose(sdk, framework, major, runner):
    assert runners.choose(sdk_style=sdk, framework=framework, framework_major=major, project="T.csproj") == runner


def test_choose_without_a_framework_asks_for_a_runner():
    with pytest.raises(UsageError, match="set \\[test\\] runner"):
        runners.choose(sdk_style=False, framework=None, framework_major=None, project="T.csproj")


def test_a_runner_restored_into_packages_runs_through_mono(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("NUGET_PACKAGES", str(tmp_path / "nuget"))
    with pytest.raises(ToolMissingError, match="nunit3-console is not installed"):
        runners.find("nunit3-console", [tmp_path / "packages"])
    for version in ("3.15.2", "3.16.3"):
        exe = tmp_path / "packages" / f"NUnit.ConsoleRunner.{version}" / "tools" / "nunit3-console.exe"
        exe.parent.mkdir(parents=True)
        exe.write_bytes(b"MZ")
    if sys.platform == "win32":
        pytest.skip("off Windows only")
    mono = shutil.which("mono", path="/usr/bin:/usr/local/bin")
    if mono is None:
        with pytest.raises(ToolMissingError, match="needs Mono"):
            runners.find("nunit3-console", [tmp_path / "packages"])
        return
    monkeypatch.setenv("PATH", str(Path(mono).parent))
    runner = runners.find("nunit3-console", [tmp_path / "packages"])
    assert runner.argv0[0] == mono and "NUnit.ConsoleRunner.3.16.3" in runner.argv0[1]
    assert runner.command(Path("/o/T.dll"), Path("/r/T.nunit3.xml")) == [
        mono, runner.argv0[1], "/o/T.dll", "--result=/r/T.nunit3.xml;format=nunit3", "--noheader"]


def test_unknown_runner():
    with pytest.raises(UsageError, match="unknown test runner 'nunit2'"):
        runners.find("nunit2")
