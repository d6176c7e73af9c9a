import json

import pytest

from b2release.errors import InputError
from b2release.scanners.inventory import collect
from tests.fixtures.scan import classic_tree

SDK_PROJECT = """<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net48</TargetFramework>
    <PollyVersion>7.2.4</PollyVersion>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Newtonsoft.Json" Version="12.0.3" />
    <PackageReference Include="Polly" Version="$(PollyVersion)" />
    <PackageReference Include="Serilog">
      <Version>[2.12.0, 3.0)</Version>
    </PackageReference>
    <PackageReference Include="Floating.Lib" Version="1.2.*" />
  </ItemGroup>
</Project>
"""

CPM_PROJECT = """<Project Sdk="Microsoft.NET.Sdk">
  <ItemGroup>
    <PackageReference Include="Newtonsoft.Json" />
    <PackageReference Include="Serilog" VersionOverride="3.1.1" />
  </ItemGroup>
</Project>
"""

CPM_PROPS = """<Project>
  <PropertyGroup><ManagePackageVersionsCentrally>true</ManagePackageVersionsCentrally></PropertyGroup>
  <ItemGroup>
    <PackageVersion Include="Newtonsoft.Json" Version="13.0.3" />
    <PackageVersion Include="Serilog" Version="2.12.0" />
    <GlobalPackageReference Include="Nerdbank.GitVersioning" Version="3.6.133" />
  </ItemGroup>
</Project>
"""


def by_id(inv):
    return {(p.id.lower(), p.version): p for p in inv.packages.values()}


def test_packages_config(tmp_path):
    classic_tree(tmp_path, {"Newtonsoft.Json": "13.0.3", "System.Net.Http": "4.3.4"})
    inv = collect(tmp_path)
    pkgs = by_id(inv)
    assert set(pkgs) == {("newtonsoft.json", "13.0.3"), ("system.net.http", "4.3.4")}
    nj = pkgs[("newtonsoft.json", "13.0.3")]
    assert nj.direct and nj.declared_in == {"src/Lib/packages.config"}
    assert nj.location() == ("src/Lib/packages.config", 3)
    assert inv.project_files == ["src/Lib/Lib.csproj"]


def test_sdk_package_references(tmp_path):
    (tmp_path / "App").mkdir()
    (tmp_path / "App" / "App.csproj").write_text(SDK_PROJECT, encoding="utf-8")
    inv = collect(tmp_path)
    pkgs = by_id(inv)
    assert set(pkgs) == {("newtonsoft.json", "12.0.3"), ("polly", "7.2.4"), ("serilog", "2.12.0")}
    assert all(p.direct for p in pkgs.values())
    assert pkgs[("polly", "7.2.4")].location() == ("App/App.csproj", 8)
    assert any("Floating.Lib" in n and "floating" in n for n in inv.notes)


def test_central_package_management(tmp_path):
    (tmp_path / "Directory.Packages.props").write_text(CPM_PROPS, encoding="utf-8")
    (tmp_path / "src" / "App").mkdir(parents=True)
    (tmp_path / "src" / "App" / "App.csproj").write_text(CPM_PROJECT, encoding="utf-8")
    pkgs = by_id(collect(tmp_path))
    assert set(pkgs) == {("newtonsoft.json", "13.0.3"), ("serilog", "3.1.1"), ("nerdbank.gitversioning", "3.6.133")}
    # the version is declared centrally: that is the file to fix
    assert pkgs[("newtonsoft.json", "13.0.3")].declared_in == {"Directory.Packages.props"}
    assert pkgs[("serilog", "3.1.1")].declared_in == {"src/App/App.csproj"}


def test_lock_file_direct_and_transitive(tmp_path):
    proj = tmp_path / "App"
    proj.mkdir()
    (proj / "App.csproj").write_text(
        '<Project Sdk="Microsoft.NET.Sdk"><ItemGroup>'
        '<PackageReference Include="Serilog.Sinks.File" Version="5.0.0" /></ItemGroup></Project>', encoding="utf-8")
    lock = {"version": 1, "dependencies": {".NETFramework,Version=v4.8": {
        "Serilog.Sinks.File": {"type": "Direct", "requested": "[5.0.0, )", "resolved": "5.0.0",
                               "dependencies": {"Serilog": "2.10.0"}},
        "Serilog": {"type": "Transitive", "resolved": "2.10.0"},
        "Other.Project": {"type": "Project"},
    }}}
    (proj / "packages.lock.json").write_text(json.dumps(lock), encoding="utf-8")
    inv = collect(tmp_path)
    pkgs = by_id(inv)
    assert set(pkgs) == {("serilog.sinks.file", "5.0.0"), ("serilog", "2.10.0")}
    sink, serilog = pkgs[("serilog.sinks.file", "5.0.0")], pkgs[("serilog", "2.10.0")]
    assert sink.direct and not serilog.direct
    assert sink.declared_in == {"App/packages.lock.json", "App/App.csproj"}
    assert sink.dependencies == {"serilog@2.10.0"}


def test_assets_file_resolves_the_declared_minimum(tmp_path):
    proj = tmp_path / "App"
    (proj / "obj").mkdir(parents=True)
    (proj / "App.csproj").write_text(
        '<Project Sdk="Microsoft.NET.Sdk"><ItemGroup>'
        '<PackageReference Include="Newtonsoft.Json" Version="12.0.1" /></ItemGroup></Project>', encoding="utf-8")
    assets = {
        "version": 3,
        "targets": {".NETFramework,Version=v4.8": {
            "Newtonsoft.Json/13.0.1": {"type": "package"},
            "Microsoft.Bcl.AsyncInterfaces/6.0.0": {"type": "package",
                                                    "dependencies": {"System.Threading.Tasks.Extensions": "4.5.4"}},
            "System.Threading.Tasks.Extensions/4.5.4": {"type": "package"},
            "Other/1.0.0": {"type": "project"},
        }},
        "packageFolders": {str(tmp_path / "nuget-cache"): {}},
        "project": {"frameworks": {"net48": {"dependencies": {
            "Newtonsoft.Json": {"target": "Package", "version": "[12.0.1, )"},
            "Microsoft.Bcl.AsyncInterfaces": {"target": "Package", "version": "[6.0.0, )"},
        }}}},
    }
    (proj / "obj" / "project.assets.json").write_text(json.dumps(assets), encoding="utf-8")
    inv = collect(tmp_path)
    pkgs = by_id(inv)
    # the resolved 13.0.1, not the requested minimum 12.0.1
    assert set(pkgs) == {("newtonsoft.json", "13.0.1"), ("microsoft.bcl.asyncinterfaces", "6.0.0"),
                         ("system.threading.tasks.extensions", "4.5.4")}
    assert pkgs[("newtonsoft.json", "13.0.1")].direct
    assert not pkgs[("system.threading.tasks.extensions", "4.5.4")].direct
    assert inv.package_folders == [tmp_path / "nuget-cache"]


def test_each_package_once_across_projects(tmp_path):
    classic_tree(tmp_path / "a", {"Newtonsoft.Json": "13.0.3"})
    classic_tree(tmp_path / "b", {"Newtonsoft.Json": "13.0.3.0"})
    inv = collect(tmp_path)
    assert len(inv.packages) == 1
    (pkg,) = inv.packages.values()
    assert pkg.declared_in == {"a/src/Lib/packages.config", "b/src/Lib/packages.config"}


def test_skips_bin_packages_and_excluded_work_dir(tmp_path):
    classic_tree(tmp_path, {"A.Lib": "1.0.0"})
    for skipped in ("bin", "packages", "dist"):
        classic_tree(tmp_path / skipped, {"Hidden.Lib": "1.0.0"})
    inv = collect(tmp_path, exclude=[tmp_path / "dist"])
    assert {p.id for p in inv.packages.values()} == {"A.Lib"}


@pytest.mark.parametrize("name,content,needle", [
    ("packages.config", "<packages><package", "not well-formed XML"),
    ("packages.lock.json", "{not json", "not a readable JSON"),
    ("packages.lock.json", "{}", "not a packages.lock.json"),
])
def test_broken_files_name_the_file(tmp_path, name, content, needle):
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as info:
        collect(tmp_path)
    assert needle in info.value.message and name in info.value.message


def test_missing_source_tree(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        collect(tmp_path / "nope")


def test_invalid_version_is_noted(tmp_path):
    classic_tree(tmp_path, {"Odd.Lib": "1.0.0-beta_1"})
    inv = collect(tmp_path)
    assert any("Odd.Lib" in n and "invalid NuGet version" in n for n in inv.notes)
