"""Test project detection (by what the project file says, never by name) and the solution without them."""

from __future__ import annotations

from pathlib import Path

import pytest

from b2release.toolchains import discovery, testprojects

CLASSIC = """<?xml version="1.0" encoding="utf-8"?>
<Project ToolsVersion="14.0" xmlns="http://schemas.microsoft.com/developer/msbuild/2003">
  <PropertyGroup>{props}</PropertyGroup>
  <ItemGroup>{items}</ItemGroup>
</Project>
"""
SDK = '<Project Sdk="Microsoft.NET.Sdk"><PropertyGroup>{props}</PropertyGroup><ItemGroup>{items}</ItemGroup></Project>'


def _project(tmp_path: Path, name: str, props: str = "", items: str = "", sdk: bool = False,
             packages: str | None = None) -> discovery.ProjectFile:
    folder = tmp_path / name
    folder.mkdir()
    path = folder / f"{name}.csproj"
    path.write_text((SDK if sdk else CLASSIC).format(props=props, items=items), encoding="utf-8")
    if packages is not None:
        (folder / "packages.config").write_text(
            f'<?xml version="1.0"?><packages><package id="{packages}" version="1.0.0" /></packages>')
    return discovery.inspect_project(path)


@pytest.mark.parametrize(("props", "items", "sdk", "packages", "frameworks", "evidence"), [
    ("", '<Reference Include="nunit.framework, Version=2.6.4.0, Culture=neutral"><HintPath>x</HintPath></Reference>',
     False, None, ("nunit",), "a reference to nunit.framework"),
    ("", '<Reference Include="xunit.core" />', False, None, ("xunit",), "a reference to xunit.core"),
    ("", '<Reference Include="Microsoft.VisualStudio.QualityTools.UnitTestFramework" />', False, None, ("mstest",),
     "a reference to Microsoft.VisualStudio.QualityTools.UnitTestFramework"),
    ("", '<PackageReference Include="xunit" Version="2.6.2" />', True, None, ("xunit",), "a PackageReference to xunit"),
    ("", '<PackageReference Include="MSTest.TestFramework" Version="3.1.1" />', True, None, ("mstest",),
     "a PackageReference to MSTest.TestFramework"),
    ("", '<PackageReference Include="Microsoft.NET.Test.Sdk" Version="17.8.0" />', True, None, (),
     "a PackageReference to Microsoft.NET.Test.Sdk"),
    ("<IsTestProject>true</IsTestProject>", "", True, None, (), "IsTestProject=true"),
    ("", "", False, "NUnit", ("nunit",), "packages.config entry NUnit"),
    ("<ProjectTypeGuids>{3AC096D0-A1C2-E12C-1390-A8335801FDAB};{FAE04EC0-301F-11D3-BF4B-00C04F79EFBC}"
     "</ProjectTypeGuids>", "", False, None, (), "the test project type in ProjectTypeGuids"),
    ("", '<Service Include="{82A7F48D-3B50-4B1E-B82E-3ADA8210C358}" />', False, None, (),
     "the Test Explorer service item"),
])
def test_test_projects_are_found_by_their_contents(tmp_path, props, items, sdk, packages, frameworks, evidence):
    found = testprojects.detect(_project(tmp_path, "Anything", props, items, sdk, packages))
    assert found is not None
    assert (found.frameworks, found.evidence, found.sdk_style) == (frameworks, evidence, sdk)


def test_a_name_is_no_evidence_and_isTestProject_false_wins(tmp_path):
    assert testprojects.detect(_project(tmp_path, "Enventa.Connector.Tests", items='<Reference Include="System" />')) \
        is None
    helper = _project(tmp_path, "TestHelpers", "<IsTestProject>false</IsTestProject>",
                      '<Reference Include="nunit.framework" />')
    assert testprojects.detect(helper) is None


def test_assembly_name(tmp_path):
    named = _project(tmp_path, "A", "<AssemblyName>Acme.Specs</AssemblyName>", '<Reference Include="nunit.framework" />')
    assert testprojects.detect(named).assembly_name == "Acme.Specs"
    computed = _project(tmp_path, "B", "<AssemblyName>$(MSBuildProjectName)</AssemblyName>",
                        '<Reference Include="nunit.framework" />')
    assert testprojects.detect(computed).assembly_name == "B"


SLN = (
    "\r\nMicrosoft Visual Studio Solution File, Format Version 12.00\r\n"
    'Project("{FAE04EC0-301F-11D3-BF4B-00C04F79EFBC}") = "Lib", "src\\Lib\\Lib.csproj", '
    '"{AAAAAAAA-0000-0000-0000-000000000001}"\r\n'
    "EndProject\r\n"
    'Project("{FAE04EC0-301F-11D3-BF4B-00C04F79EFBC}") = "Lib.Specs", "test\\Lib.Specs\\Lib.Specs.csproj", '
    '"{aaaaaaaa-0000-0000-0000-000000000002}"\r\n'
    "\tProjectSection(ProjectDependencies) = postProject\r\n"
    "\t\t{AAAAAAAA-0000-0000-0000-000000000001} = {AAAAAAAA-0000-0000-0000-000000000001}\r\n"
    "\tEndProjectSection\r\n"
    "EndProject\r\n"
    "Global\r\n"
    "\tGlobalSection(ProjectConfigurationPlatforms) = postSolution\r\n"
    "\t\t{AAAAAAAA-0000-0000-0000-000000000001}.Release|Any CPU.ActiveCfg = Release|Any CPU\r\n"
    "\t\t{AAAAAAAA-0000-0000-0000-000000000002}.Release|Any CPU.ActiveCfg = Release|Any CPU\r\n"
    "\tEndGlobalSection\r\n"
    "\tGlobalSection(NestedProjects) = preSolution\r\n"
    "\t\t{AAAAAAAA-0000-0000-0000-000000000002} = {BBBBBBBB-0000-0000-0000-000000000009}\r\n"
    "\tEndGlobalSection\r\n"
    "EndGlobal\r\n"
)


def test_solution_without_removes_the_block_and_every_line_naming_the_guid(tmp_path):
    text, removed = testprojects.solution_without(SLN, tmp_path, {tmp_path / "test" / "Lib.Specs" / "Lib.Specs.csproj"})
    assert removed == ["Lib.Specs.csproj"]
    assert "Lib.Specs" not in text and "-000000000002" not in text
    assert 'src\\Lib\\Lib.csproj' in text and "{AAAAAAAA-0000-0000-0000-000000000001}.Release" in text
    assert text.count("\r\n") == SLN.count("\r\n") - 7 and "\n" not in text.replace("\r\n", "")
    unchanged, none = testprojects.solution_without(SLN, tmp_path, set())
    assert (unchanged, none) == (SLN, [])


def test_a_test_project_a_product_project_references_stays(tmp_path):
    lib = _project(tmp_path, "Lib", items='<ProjectReference Include="..\\Lib.Tests\\Lib.Tests.csproj" />')
    tests = _project(tmp_path, "Lib.Tests", items='<Reference Include="nunit.framework" />')
    other = _project(tmp_path, "Other.Tests", items='<Reference Include="nunit.framework" />')
    build = discovery.BuildInput(entry=lib.path, projects=[lib, tests, other])
    found = testprojects.find(build.projects)
    assert [t.path.name for t in found] == ["Lib.Tests.csproj", "Other.Tests.csproj"]
    assert testprojects.referenced_by_product(build, found) == {tests.path}
