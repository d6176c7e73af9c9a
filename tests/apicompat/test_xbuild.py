"""A tiny net48-style project built twice with xbuild, in two folders: identical API text."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from b2release.apicompat import read_assembly, write_api_files

from .conftest import require_tool

pytestmark = pytest.mark.mono

CSPROJ = """<?xml version="1.0" encoding="utf-8"?>
<Project ToolsVersion="14.0" DefaultTargets="Build" xmlns="http://schemas.microsoft.com/developer/msbuild/2003">
  <PropertyGroup>
    <Configuration Condition=" '$(Configuration)' == '' ">Release</Configuration>
    <Platform Condition=" '$(Platform)' == '' ">AnyCPU</Platform>
    <OutputType>Library</OutputType>
    <RootNamespace>Enventa.Tiny</RootNamespace>
    <AssemblyName>Enventa.Tiny</AssemblyName>
    <TargetFrameworkVersion>v4.8</TargetFrameworkVersion>
    <OutputPath>bin\\Release\\</OutputPath>
    <DebugType>none</DebugType>
    <Optimize>true</Optimize>
  </PropertyGroup>
  <ItemGroup>
    <Reference Include="System" />
    <Reference Include="System.Core" />
  </ItemGroup>
  <ItemGroup>
    <Compile Include="Greeter.cs" />
    <Compile Include="Model.cs" />
  </ItemGroup>
  <Import Project="$(MSBuildToolsPath)\\Microsoft.CSharp.targets" />
</Project>
"""
GREETER = """using System.Collections.Generic;
namespace Enventa.Tiny
{
    public class Greeter
    {
        public string Hello(string name = "world") { return "Hello " + name; }
        public IEnumerable<string> Names() { yield return "a"; }
        public event System.EventHandler Greeted;
    }
}
"""
MODEL = """namespace Enventa.Tiny
{
    public enum Mood { Happy = 1, Grumpy = 2 }
    public struct Reading { public readonly double Value; public Reading(double v) { Value = v; } }
}
"""


def build(folder: Path, xbuild: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "Enventa.Tiny.csproj").write_text(CSPROJ, encoding="utf-8")
    (folder / "Greeter.cs").write_text(GREETER, encoding="utf-8")
    (folder / "Model.cs").write_text(MODEL, encoding="utf-8")
    proc = subprocess.run([xbuild, "/nologo", "/verbosity:quiet", "/p:Configuration=Release", "Enventa.Tiny.csproj"],
                          cwd=folder, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder / "bin" / "Release" / "Enventa.Tiny.dll"


def test_two_xbuild_builds_in_different_folders_give_identical_api_files(tmp_path):
    xbuild = require_tool("xbuild")
    files = []
    for folder in (tmp_path / "one", tmp_path / "elsewhere" / "two"):
        dll = build(folder, xbuild)
        [api] = write_api_files([read_assembly(dll).surface], folder / "api")
        files.append(api)
    assert [f.name for f in files] == ["Enventa.Tiny.api.txt", "Enventa.Tiny.api.txt"]
    first, second = (f.read_bytes() for f in files)
    assert first == second
    assert b"member Enventa.Tiny.Greeter: public string Hello(string name = \"world\")\n" in first
    assert b"type public enum Enventa.Tiny.Mood : int\n" in first
