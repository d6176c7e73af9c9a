import os
from pathlib import Path

import pytest

from b2release.errors import InputError, ToolMissingError, UsageError
from b2release.toolchains import discovery
from tests.fixtures.build import SAMPLE


def test_sample_solution_is_classic_with_three_projects():
    build = discovery.inspect(SAMPLE / "Enventa.Connector.sln")
    names = sorted(p.path.name for p in build.projects)
    assert names == ["Enventa.Connector.Cli.csproj", "Enventa.Connector.Tests.csproj", "Enventa.Connector.csproj"]
    assert build.classic and not build.sdk_style
    assert build.copy_root() == SAMPLE.resolve()


def test_sdk_variant_is_sdk_style_and_needs_the_shared_sources():
    build = discovery.inspect(SAMPLE / "sdk" / "Enventa.Connector.Sdk.csproj")
    assert build.sdk_style and not build.classic
    # It compiles ../src/**: the build copy must hold that folder too.
    assert build.copy_root() == SAMPLE.resolve()


def test_folder_argument_finds_the_one_solution():
    assert discovery.inspect(SAMPLE).entry == (SAMPLE / "Enventa.Connector.sln").resolve()


def test_missing_project_and_bad_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        discovery.inspect(tmp_path / "nope.sln")
    bad = tmp_path / "bad.csproj"
    bad.write_text("<Project><oops></Project>")
    with pytest.raises(InputError, match="bad.csproj: not a valid project file"):
        discovery.inspect(bad)
    other = tmp_path / "x.txt"
    other.write_text("hello")
    with pytest.raises(InputError, match="not a solution"):
        discovery.inspect(other)
    with pytest.raises(UsageError, match="no solution or project file"):
        discovery.inspect(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else tmp_path)


def test_solution_with_missing_project(tmp_path):
    sln = tmp_path / "a.sln"
    sln.write_text('Project("{FAE04EC0-301F-11D3-BF4B-00C04F79EFBC}") = "A", "A\\A.csproj", "{1}"\nEndProject\n')
    with pytest.raises(InputError, match="A.csproj .*does not exist"):
        discovery.inspect(sln)


def test_auto_prefers_msbuild_then_xbuild(fake_tools):
    build = discovery.inspect(SAMPLE / "Enventa.Connector.sln")
    bin_dir = fake_tools("xbuild", alone=True)
    assert discovery.choose("auto", build) == ("xbuild", str(bin_dir / "xbuild"))
    fake_tools("msbuild", "xbuild", alone=True)
    assert discovery.choose("auto", build)[0] == "msbuild"


def test_auto_for_sdk_style_uses_dotnet_never_xbuild(fake_tools):
    build = discovery.inspect(SAMPLE / "sdk" / "Enventa.Connector.Sdk.csproj")
    fake_tools("xbuild", alone=True)
    with pytest.raises(ToolMissingError, match="xbuild cannot build SDK-style"):
        discovery.choose("auto", build)
    fake_tools("dotnet", "xbuild", alone=True)
    assert discovery.choose("auto", build)[0] == "dotnet"


def test_impossible_combinations_are_usage_errors(fake_tools):
    fake_tools("xbuild", "dotnet", alone=True)
    with pytest.raises(UsageError, match="xbuild cannot build SDK-style project Enventa.Connector.Sdk.csproj"):
        discovery.choose("xbuild", discovery.inspect(SAMPLE / "sdk" / "Enventa.Connector.Sdk.csproj"))
    with pytest.raises(UsageError, match="dotnet builds SDK-style projects only"):
        discovery.choose("dotnet", discovery.inspect(SAMPLE / "Enventa.Connector.sln"))


def test_missing_explicit_tool_has_an_install_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissingError) as info:
        discovery.choose("dotnet", discovery.inspect(SAMPLE / "Enventa.Connector.sln"))
    assert info.value.exit_code == 3
    assert "dotnet is not installed" in info.value.message
    assert "install the .NET SDK" in info.value.hint
    assert os.environ["PATH"] == str(tmp_path)


def test_unknown_tool():
    with pytest.raises(UsageError, match="unknown build tool 'nmake'"):
        discovery.choose("nmake", discovery.inspect(Path(SAMPLE)))
