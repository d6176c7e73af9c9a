"""What of a build's output folder ships: every rule, with real assemblies where it matters."""

from __future__ import annotations

import shutil

import pytest

from b2release.toolchains import outputs


@pytest.mark.parametrize(("pattern", "path", "hit"), [
    ("*.json", "appsettings.json", True),
    ("*.json", "config/appsettings.json", True),  # no slash: the file name in any folder
    ("config/*.json", "config/appsettings.json", True),
    ("config/*.json", "config/deep/a.json", False),
    ("config/**/*.json", "config/deep/a.json", True),
    ("config/**/*.json", "config/a.json", True),
    ("x86/", "x86/native.dll", True),
    ("x86/", "lib/x86/native.dll", False),
    ("./de/*.dll", "de/X.resources.dll", True),
    ("*.PDB", "Lib.pdb", True),
    ("Lib.?ll", "Lib.dll", True),
    ("Lib.?ll", "Lib.xdll", False),
])
def test_glob(pattern, path, hit):
    assert bool(outputs.glob_regex(pattern).match(path)) is hit


def _tree(root, files: dict[str, bytes]):
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)


@pytest.mark.mono
def test_every_rule(tmp_path, compiled):
    out = tmp_path / "out"
    out.mkdir()
    for name in ("Lib", "Tests", "RefAsm"):
        shutil.copyfile(compiled / f"{name}.dll", out / f"{name}.dll")
    _tree(out, {
        "Lib.dll.mdb": b"symbols", "Lib.xml": b"<doc/>", "Lib.dll.config": b"<configuration/>",
        "appsettings.json": b"{}", "x86/native.dll": b"MZ native", "de/Lib.resources.dll": b"satellite",
        "Tests.dll.mdb": b"s", "Tests.dll.config": b"<c/>", "de/Tests.resources.dll": b"satellite",
        "nunit.framework.dll": b"MZ", "nunit.framework.xml": b"<doc/>", "xunit.runner.visualstudio.testadapter.dll": b"MZ",
        "Microsoft.VisualStudio.TestPlatform.TestFramework.dll": b"MZ", "testhost.exe": b"MZ",
        "Specs.dll": b"MZ", "Specs.pdb": b"p",
        "ref/Lib.dll": b"MZ", "obj/Release/Lib.dll": b"MZ", "Cli.vshost.exe": b"MZ",
        "Lib.dll.CodeAnalysisLog.xml": b"<x/>", "Lib.dll.lastcodeanalysissucceeded": b"",
    })
    selection = outputs.select(out, test_assemblies={"specs": "Specs.csproj"})
    kept = [name for name, _ in selection.kept]
    assert kept == ["Lib.dll", "Lib.dll.config", "Lib.dll.mdb", "Lib.xml", "appsettings.json", "de/Lib.resources.dll",
                    "x86/native.dll"]
    rules = {d.name: d.rule for d in selection.dropped}
    assert rules == {
        "Tests.dll": "test-assembly", "Tests.dll.mdb": "companion", "Tests.dll.config": "companion",
        "de/Tests.resources.dll": "companion", "RefAsm.dll": "reference-assembly",
        "nunit.framework.dll": "test-framework", "nunit.framework.xml": "companion",
        "xunit.runner.visualstudio.testadapter.dll": "test-framework",
        "Microsoft.VisualStudio.TestPlatform.TestFramework.dll": "test-framework", "testhost.exe": "test-framework",
        "Specs.dll": "test-assembly", "Specs.pdb": "companion", "ref/Lib.dll": "ref-folder", "obj/Release/Lib.dll": "obj",
        "Cli.vshost.exe": "vshost", "Lib.dll.CodeAnalysisLog.xml": "code-analysis",
        "Lib.dll.lastcodeanalysissucceeded": "code-analysis",
    }
    reasons = {d.name: d.reason for d in selection.dropped}
    assert reasons["Tests.dll"].startswith("test assembly (references nunit.framework 2.")
    assert reasons["Specs.dll"] == "test assembly of test project Specs.csproj"
    assert "belongs to Tests.dll" in reasons["de/Tests.resources.dll"]
    assert selection.notes == []


def test_symbols_include_and_exclude(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _tree(out, {"Lib.dll": b"MZ", "Lib.pdb": b"p", "Lib.xml": b"<doc/>", "appsettings.json": b"{}",
                "appsettings.Development.json": b"{}", "x86/native.dll": b"MZ", "README.txt": b"hi"})
    selection = outputs.select(out, symbols=False, include=["*.dll", "*.json", "*.cfg"],
                               exclude=["appsettings.*.json", "x86/", "*.zip"])
    assert [name for name, _ in selection.kept] == ["Lib.dll", "appsettings.json"]
    assert {d.name: d.reason for d in selection.dropped} == {
        "Lib.pdb": "symbols ([build] symbols = false)",
        "Lib.xml": "matches none of [build] include", "README.txt": "matches none of [build] include",
        "appsettings.Development.json": "matches [build] exclude 'appsettings.*.json'",
        "x86/native.dll": "matches [build] exclude 'x86/'",
    }
    assert selection.notes == ["[build] include pattern '*.cfg' matched no file of the build output",
                               "[build] exclude pattern '*.zip' matched no file of the build output"]


def test_include_cannot_bring_back_what_never_ships(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _tree(out, {"Lib.dll": b"MZ", "nunit.framework.dll": b"MZ", "ref/Lib.dll": b"MZ"})
    selection = outputs.select(out, include=["**"])
    assert [name for name, _ in selection.kept] == ["Lib.dll"]
