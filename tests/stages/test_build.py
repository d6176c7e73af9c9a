"""The build stage, end to end: real Mono xbuild builds, and fake msbuild/dotnet on PATH."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, assert_user_error
from tests.fixtures.build import SAMPLE, tree_digest

SECRET = "s3cr3t-T0ken;with,separators"


def _build(cli, work: Path, *args: str, cwd: Path, json_out: bool = True):
    base = ["--work-dir", str(work)] + (["--json"] if json_out else [])
    return cli(*base, "build", *args, cwd=cwd)


def _state(work: Path) -> dict:
    return json.loads((work / "state.json").read_text())


# --- real builds with Mono's xbuild -------------------------------------------------------
@pytest.mark.mono
def test_xbuild_builds_the_sample_stamps_the_version_and_leaves_the_tree_alone(cli, mono, connector, tmp_path):
    before = tree_digest(connector)
    work = tmp_path / "dist"
    result = _build(cli, work, str(connector / "Enventa.Connector.sln"), "--version", "1.2.3-rc.1",
                    "--tool", "xbuild", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    doc = result.json()
    names = {o["name"] for o in doc["outputs"]}
    assert {"Enventa.Connector.dll", "Enventa.Connector.Cli.exe", "Enventa.Connector.Cli.exe.config",
            "Enventa.Connector.dll.mdb"} <= names
    assert not any("obj/" in n or n.endswith((".cs", ".csproj")) for n in names)
    assert doc["tool"] == "xbuild" and doc["version"] == "1.2.3-rc.1"

    # The version, read back from the built assembly's metadata.
    dll = work / "build" / "Enventa.Connector.dll"
    assembly = subprocess.run(["monodis", "--assembly", str(dll)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Version:\s+1\.2\.3\.0$", assembly, re.MULTILINE), assembly
    attrs = subprocess.run(["monodis", "--customattr", str(dll)], capture_output=True, text=True, check=True).stdout
    assert 'AssemblyInformationalVersionAttribute::\'.ctor\'(string) ["1.2.3-rc.1"]' in attrs
    assert 'AssemblyFileVersionAttribute::\'.ctor\'(string) ["1.2.3.0"]' in attrs
    # ... and from the Win32 version resource Windows Explorer shows (mcs writes one).
    resource = dll.read_bytes().decode("utf-16-le", errors="ignore")
    assert re.search(r"FileVersion\x00+1\.2\.3\.0\x00", resource)
    assert re.search(r"ProductVersion\x00+1\.2\.3-rc\.1\x00", resource)
    exe = subprocess.run(["monodis", "--assembly", str(work / "build" / "Enventa.Connector.Cli.exe")],
                         capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Version:\s+1\.2\.3\.0$", exe, re.MULTILINE)

    # The source tree is byte-for-byte what it was: no bin/, obj/, no rewritten AssemblyInfo.cs.
    assert tree_digest(connector) == before

    # state.json: the binaries for sign/package, build-info, and the data package copies.
    state = _state(work)
    binaries = {a["extra"]["name"]: a for a in state["artifacts"] if a["kind"] == "binary"}
    assert set(binaries) == names
    assert binaries["Enventa.Connector.dll"]["path"] == "build/Enventa.Connector.dll"
    assert any(a["kind"] == "build-info" and a["path"] == "build-info.json" for a in state["artifacts"])
    data = state["runs"]["build"]["data"]
    assert data["version"] == "1.2.3-rc.1"
    assert Path(data["source_dir"]).is_absolute()
    info = data["manifest_info"]
    assert set(info) == {"tool", "tool_version", "configuration", "git_commit", "project", "assemblies"}
    assert info["assemblies"] == ["Enventa.Connector", "Enventa.Connector.Cli"]  # stamped and shipped, no tests
    assert info["tool"] == "xbuild" and info["configuration"] == "Release"
    assert info["project"].endswith("Enventa.Connector.sln") and not Path(info["project"]).is_absolute()
    assert "Mono" in info["tool_version"]
    assert str(tmp_path) not in json.dumps(info)

    build_info = json.loads((work / "build-info.json").read_text())
    assert build_info["version"] == "1.2.3-rc.1" and build_info["tool"] == "xbuild"
    assert build_info["command_line"].startswith(shutil.which("xbuild"))
    assert "/p:Configuration=Release" in build_info["command_line"]
    assert set(build_info["git"]) == {"commit", "dirty"}
    for out in build_info["outputs"]:
        assert out["sha256"] == binaries[out["name"]]["sha256"]


@pytest.mark.mono
def test_xbuild_builds_are_byte_identical_from_two_directories(cli, mono, tmp_path):
    results = []
    for where in (tmp_path / "a", tmp_path / "somewhere" / "much" / "deeper"):
        src = where / "enventa-connector"
        shutil.copytree(SAMPLE, src, ignore=shutil.ignore_patterns("bin", "obj"))
        work = where / "dist"
        result = _build(cli, work, str(src), "--version", "4.5.6", "--tool", "xbuild", cwd=where)
        assert result.exit_code == 0, result.output
        results.append({p.name: p.read_bytes() for p in (work / "build").iterdir()})
    first, second = results
    assert set(first) == set(second)
    assert "Enventa.Connector.dll" in first and "Enventa.Connector.dll.mdb" in first
    for name in first:
        # DLL, EXE and the .mdb symbols (whose source paths go through -pathmap) alike.
        assert first[name] == second[name], f"{name} differs between the two builds"


@pytest.mark.mono
def test_compile_error_exits_3_with_file_line_and_code(cli, mono, broken_connector, tmp_path):
    work = tmp_path / "dist"
    result = _build(cli, work, str(broken_connector), "--version", "1.0.0", "--tool", "xbuild", cwd=tmp_path)
    assert_user_error(result, 3, "build failed", "Broken.cs(7,20)", "CS0029")
    doc = result.json()
    diags = doc["details"]["diagnostics"]
    errors = [d for d in diags if d["severity"] == "error"]
    assert len(errors) == 1, diags  # xbuild prints it twice: reported once
    assert errors[0]["file"].endswith("src/Enventa.Connector/Broken.cs")
    assert (errors[0]["line"], errors[0]["column"], errors[0]["code"]) == (7, 20, "CS0029")
    # The table on stderr names the same.
    assert "CS0029" in result.stderr and "Broken.cs" in result.stderr
    assert str(tmp_path / "dist" / "build.log") in result.stderr
    assert (work / "build.log").is_file()
    assert _state(work)["runs"]["build"]["status"] == "failed"


@pytest.mark.mono
def test_release_takes_version_and_project_from_context(cli, mono, connector, tmp_path):
    (tmp_path / "b2release.toml").write_text(
        f'[product]\nname = "enventa-connector"\nproject = "{connector.name}/Enventa.Connector.sln"\n'
        '[build]\ntool = "xbuild"\nsymbols = false\n'
    )
    result = cli("--work-dir", str(tmp_path / "dist"), "release", "--version", "7.0.1", "--to", "build", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "dist" / "build").iterdir())
    assert names == ["Enventa.Connector.Cli.exe", "Enventa.Connector.Cli.exe.config", "Enventa.Connector.dll"]
    assert _state(tmp_path / "dist")["runs"]["build"]["data"]["version"] == "7.0.1"


@pytest.mark.mono
def test_reference_assemblies_are_not_shipped(mono, tmp_path):
    from b2release.toolchains import outputs
    from b2release.toolchains.xbuild import XBuild

    framework = Path("/usr/lib/mono/4.8-api/System.Web.dll")
    gac = Path("/usr/lib/mono/4.5/System.Web.dll")
    if not framework.is_file() or not gac.is_file():
        pytest.skip("Mono's System.Web.dll is not at /usr/lib/mono/4.8-api and /usr/lib/mono/4.5")
    out = tmp_path / "out"
    (out / "gac").mkdir(parents=True)
    shutil.copyfile(framework, out / "System.Web.dll")  # what a Private=true framework reference does
    shutil.copyfile(gac, out / "gac" / "System.Web.dll")  # the implementation, copied out of the GAC
    (out / "System.Web.dll.mdb").write_bytes(b"x")
    (out / "Enventa.Connector.dll").write_bytes(b"MZ ours")
    (out / "Enventa.Connector.xml").write_text("<doc/>")
    selection = outputs.select(out, reference_dirs=XBuild(shutil.which("xbuild")).reference_dirs())
    assert [n for n, _ in selection.kept] == ["Enventa.Connector.dll", "Enventa.Connector.xml"]
    rules = {d.name: d.rule for d in selection.dropped}
    assert rules == {"System.Web.dll": "reference-assembly", "System.Web.dll.mdb": "companion",
                     "gac/System.Web.dll": "framework-copy"}


# --- fake msbuild / dotnet on PATH --------------------------------------------------------
def test_fake_msbuild_gets_the_arguments_streams_and_secrets_stay_hidden(cli, fake_tools, connector, tmp_path):
    fake_tools("msbuild")
    work = tmp_path / "dist"
    result = cli("-v", "--work-dir", str(work), "--json", "build", str(connector), "--version", "3.2.1",
                 "--tool", "msbuild", "--configuration", "Staging",
                 "--property", "Company=B2Connect GmbH & Co. KG", "--property", "DefineConstants=TRACE;EXTRA",
                 "-p", f"SigningToken={SECRET}", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    recorded = fake_tools.recorded()
    argv = recorded["argv"]
    assert argv[0].endswith("Enventa.Connector.sln") and not argv[0].startswith(str(connector))
    assert "-p:Configuration=Staging" in argv
    assert "-p:AssemblyVersion=3.2.1.0" in argv and "-p:InformationalVersion=3.2.1" in argv
    assert "-p:Deterministic=true" in argv and "-p:ContinuousIntegrationBuild=true" in argv
    assert any(a.startswith("-p:PathMap=") and a.endswith("=/_/") for a in argv)
    assert "-p:Company=B2Connect GmbH & Co. KG" in argv
    assert "-p:DefineConstants=TRACE%3BEXTRA" in argv
    assert "-p:SigningToken=s3cr3t-T0ken%3Bwith%2Cseparators" in argv  # the tool gets the real value
    # -v streams the tool's lines to stderr as they come.
    assert "fake msbuild: step 1" in result.stderr and "fake msbuild: step 2" in result.stderr
    names = sorted(p.relative_to(work / "build").as_posix() for p in (work / "build").rglob("*") if p.is_file())
    assert names == ["Enventa.Connector.dll", "Enventa.Connector.pdb"]  # ref/ assemblies left out
    info = json.loads((work / "build-info.json").read_text())
    assert info["tool_version"] == "17.9.8.16306"
    assert "-p:SigningToken=***" in info["command_line"] and info["properties"]["SigningToken"] == "***"
    assert "'-p:Company=B2Connect GmbH & Co. KG'" in info["command_line"]
    for text in (result.stdout, result.stderr, (work / "build-info.json").read_text(),
                 (work / "state.json").read_text(), (work / "build.log").read_text()):
        assert "s3cr3t" not in text


def test_fake_msbuild_failure_exit_code_and_diagnostics(cli, fake_tools, connector, tmp_path, monkeypatch):
    fake_tools("msbuild")
    monkeypatch.setenv("FAKE_EXIT", "1")
    monkeypatch.setenv("FAKE_LINES", r"Program.cs(3,5): error CS1002: ; expected [C:\x\Cli.csproj]"
                                     r"|Program.cs(3,5): error CS1002: ; expected [C:\x\Cli.csproj]")
    result = _build(cli, tmp_path / "dist", str(connector), "--version", "1.0.0", "--tool", "msbuild", cwd=tmp_path)
    assert_user_error(result, 3, "msbuild exit code 1", "Program.cs(3,5): error CS1002")
    assert [d["code"] for d in result.json()["details"]["diagnostics"]] == ["CS1002"]


def test_tool_failure_without_diagnostics_shows_the_last_lines(cli, fake_tools, connector, tmp_path, monkeypatch):
    fake_tools("msbuild")
    monkeypatch.setenv("FAKE_EXIT", "42")
    result = _build(cli, tmp_path / "dist", str(connector), "--version", "1.0.0", "--tool", "msbuild",
                    cwd=tmp_path, json_out=False)
    assert_user_error(result, 3, "msbuild exited with code 42")
    assert "fake msbuild: step 2" in result.stderr


def test_warnings_as_errors(cli, fake_tools, connector, tmp_path, monkeypatch):
    fake_tools("msbuild")
    monkeypatch.setenv("FAKE_LINES", "MSBUILD : warning MSB3245: Could not resolve this reference.")
    ok = _build(cli, tmp_path / "dist", str(connector), "--version", "1.0.0", "--tool", "msbuild", cwd=tmp_path)
    assert ok.exit_code == 0, ok.output
    assert [d["code"] for d in ok.json()["diagnostics"]] == ["MSB3245"]
    strict = cli("--work-dir", str(tmp_path / "dist"), "build", str(connector), "--version", "1.0.0",
                 "--tool", "msbuild", env={"B2RELEASE_BUILD_WARNINGS_AS_ERRORS": "true"}, cwd=tmp_path)
    assert_user_error(strict, 3, "build.warnings_as_errors", "MSB3245")
    assert "-p:TreatWarningsAsErrors=true" in fake_tools.recorded()["argv"]


def test_fake_dotnet_builds_the_sdk_variant_without_symbols(cli, fake_tools, tmp_path):
    fake_tools("dotnet", alone=True)
    work = tmp_path / "dist"
    result = cli("--work-dir", str(work), "--json", "build", str(SAMPLE / "sdk" / "Enventa.Connector.Sdk.csproj"),
                 "--version", "2.0.0-beta.1", env={"B2RELEASE_BUILD_SYMBOLS": "false"}, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    argv = fake_tools.recorded()["argv"]
    assert argv[0] == "build" and argv[1].endswith("sdk/Enventa.Connector.Sdk.csproj")
    assert argv[argv.index("-c") + 1] == "Release"
    assert "-p:Version=2.0.0-beta.1" in argv and "-p:FileVersion=2.0.0.0" in argv
    assert result.json()["tool"] == "dotnet" and result.json()["tool_version"] == "8.0.204"
    assert sorted(p.name for p in (work / "build").iterdir()) == ["Enventa.Connector.dll"]


def test_rebuild_replaces_the_old_outputs(cli, fake_tools, connector, tmp_path):
    fake_tools("msbuild")
    work = tmp_path / "dist"
    (work / "build").mkdir(parents=True)
    (work / "build" / "Stale.dll").write_bytes(b"old")
    result = _build(cli, work, str(connector), "--version", "1.0.0", "--tool", "msbuild", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert not (work / "build" / "Stale.dll").exists()
    assert all(a["stage"] == "build" for a in _state(work)["artifacts"] if a["kind"] == "binary")


# --- user errors --------------------------------------------------------------------------
def test_tool_dotnet_without_dotnet_is_one_line_with_a_hint(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    result = cli("--work-dir", str(tmp_path / "dist"), "build", "--tool", "dotnet", "--version", "1.0.0", cwd=REPO)
    assert_user_error(result, 3, "dotnet is not installed")
    assert "hint: install the .NET SDK" in result.stderr


def test_sdk_project_with_xbuild_is_a_usage_error(cli, fake_tools, tmp_path):
    fake_tools("xbuild", alone=True)
    result = cli("--work-dir", str(tmp_path / "dist"), "build", str(SAMPLE / "sdk" / "Enventa.Connector.Sdk.csproj"),
                 "--tool", "xbuild", "--version", "1.0.0", cwd=tmp_path)
    assert_user_error(result, 2, "xbuild cannot build SDK-style project Enventa.Connector.Sdk.csproj")


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--version", "v1.0.0"], "without the leading 'v'"),
        (["--version", "1.0"], "invalid version '1.0'"),
        (["--version", "70000.0.0"], "exceeds 65534"),
        (["--version", "1.0.0", "--configuration", "Release;Debug"], "invalid configuration"),
        (["--version", "1.0.0", "--property", "NoValue"], "NAME=VALUE"),
        (["--version", "1.0.0", "--property", "OutDir=/tmp/x"], "OutDir is set by b2release"),
        (["--version", "1.0.0", "--tool", "nmake"], "unknown build tool 'nmake'"),
        (["missing.sln", "--version", "1.0.0"], "missing.sln does not exist"),
    ],
)
def test_usage_errors(cli, tmp_path, args, needle):
    args = [str(SAMPLE)] + args if not args[0].endswith(".sln") else args
    result = cli("--work-dir", str(tmp_path / "dist"), "build", *args, cwd=tmp_path)
    assert_user_error(result, 2, needle)


def test_no_project_anywhere(cli, tmp_path):
    result = cli("--work-dir", str(tmp_path / "dist"), "build", "--version", "1.0.0", cwd=tmp_path)
    assert_user_error(result, 2, "no solution or project file")


def test_root_config_points_at_the_sample():
    from b2release import config

    cfg = config.load(REPO / "b2release.toml", environ={})
    assert cfg.path("product.project") == REPO / "examples" / "enventa-connector" / "Enventa.Connector.sln"
    assert cfg.path("product.project").is_file()


def test_package_picks_up_the_build(cli, fake_tools, connector, tmp_path, dev_keys):
    fake_tools("msbuild")
    work = tmp_path / "dist"
    (tmp_path / "b2release.toml").write_text('[product]\nname = "enventa-connector"\n')
    built = _build(cli, work, str(connector), "--version", "5.6.7", "--tool", "msbuild", cwd=tmp_path)
    assert built.exit_code == 0, built.output
    packaged = cli("--work-dir", str(work), "--json", "package", "--signing-key", str(dev_keys / "release-signing.key"),
                   "--allow-unsigned", cwd=tmp_path)
    assert packaged.exit_code == 0, packaged.output
    assert packaged.json()["version"] == "5.6.7"
    manifest = json.loads((work / "manifest.json").read_text())
    assert {f["path"] for f in manifest["files"]} == {"Enventa.Connector.dll", "Enventa.Connector.pdb"}
    assert manifest["build"] == _state(work)["runs"]["build"]["data"]["manifest_info"]
    assert manifest["build"]["tool"] == "msbuild" and manifest["build"]["tool_version"] == "17.9.8.16306"


@pytest.mark.mono
def test_rebuild_and_repackage_give_identical_release_bytes(cli, mono, connector, tmp_path, dev_keys):
    (tmp_path / "b2release.toml").write_text(
        f'[product]\nname = "enventa-connector"\nproject = "{connector.name}"\n'
        f'[release]\nsigning_key = "{dev_keys / "release-signing.key"}"\n'
    )
    digests = []
    for _ in range(2):
        work = tmp_path / "dist"
        built = cli("--work-dir", str(work), "build", "--version", "1.0.0", "--tool", "xbuild", cwd=tmp_path)
        assert built.exit_code == 0, built.output
        packaged = cli("--work-dir", str(work), "package", "--allow-unsigned", cwd=tmp_path,
                       env={"SOURCE_DATE_EPOCH": "1700000000"})
        assert packaged.exit_code == 0, packaged.output
        digests.append({name: (work / name).read_bytes() for name in ("manifest.json", "enventa-connector-1.0.0.zip")})
    assert digests[0] == digests[1]


def test_copy_failure_is_an_input_error(cli, fake_tools, connector, tmp_path, monkeypatch):
    # As root (CI) no file is unreadable, so the copy's failure report is simulated.
    from b2release.toolchains import stamping

    def failing_copy(*_args, **_kwargs):
        raise shutil.Error([(str(connector / "Unreadable.cs"), "/tmp/x", "[Errno 13] Permission denied")])

    monkeypatch.setattr(stamping, "make_copy", failing_copy)
    fake_tools("msbuild")
    result = _build(cli, tmp_path / "dist", str(connector), "--version", "1.0.0", "--tool", "msbuild", cwd=tmp_path)
    assert_user_error(result, 2, "cannot copy", "Unreadable.cs: [Errno 13] Permission denied")


# --- what ships: the project's real output (tests/fixtures/projects.py) -------------------
def _work_copy(work: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "dist"
    shutil.copytree(work, copy)  # state.json stores paths relative to the work dir
    return copy


@pytest.mark.mono
def test_the_whole_output_ships_and_every_dropped_file_has_a_reason(bridge_build):
    _sln, work = bridge_build
    shipped = sorted(p.relative_to(work / "build").as_posix() for p in (work / "build").rglob("*") if p.is_file())
    # The content file, the satellite assembly, the packages/ dependency, the content folder.
    assert {"Bridge.dll", "Bridge.Cli.exe", "Acme.Util.dll", "bridge.settings.json", "de/Bridge.resources.dll",
            "x64/bridge-native.txt"} <= set(shipped), shipped
    assert not [n for n in shipped if "Tests" in n or "nunit" in n.lower() or n == "System.Web.dll"], shipped
    info = json.loads((work / "build-info.json").read_text())
    dropped = {d["name"]: d for d in info["dropped"]}
    assert dropped["System.Web.dll"]["rule"] == "reference-assembly"
    # The exe references the test project: its assembly and NUnit reached the output folder, not the package.
    assert dropped["Bridge.Tests.dll"]["rule"] == "test-assembly"
    assert "Bridge.Tests.csproj" in dropped["Bridge.Tests.dll"]["reason"]
    assert dropped["nunit.framework.dll"]["rule"] == "test-framework"
    assert dropped["TestData/sample-export.csv"]["rule"] == "test-output"  # the test project's own data
    assert "Bridge.Tests.csproj" in dropped["TestData/sample-export.csv"]["reason"]
    assert all(d["reason"] for d in info["dropped"])
    assert {o["name"] for o in info["outputs"]} == set(shipped)
    # A product project needs the test project, so the solution build keeps it (its outputs are dropped).
    assert info["test_projects_left_out"] == []
    # ... and -v named every file that does not ship.
    live = (work.parent / "build-output.txt").read_text()
    for name in dropped:
        assert f"not shipped: {name}: " in live
    state = _state(work)
    binaries = {a["extra"]["name"] for a in state["artifacts"] if a["kind"] == "binary"}
    assert binaries == set(shipped)


@pytest.mark.mono
def test_content_files_reach_the_package(bridge_build, cli, tmp_path, dev_keys):
    work = _work_copy(bridge_build[1], tmp_path)
    result = cli("--work-dir", work, "package", "--name", "bridge", "--allow-unsigned",
                 "--signing-key", dev_keys / "release-signing.key", env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert result.exit_code == 0, result.output
    from tests.helpers import payload_names

    names = payload_names(work / "bridge-2.1.0.zip")
    assert {"bridge.settings.json", "de/Bridge.resources.dll", "Acme.Util.dll", "x64/bridge-native.txt"} <= set(names)
    assert not [n for n in names if n.lower().startswith(("system.web", "nunit")) or "Tests" in n], names


@pytest.mark.mono
def test_a_secret_in_a_content_file_fails_the_scan(bridge_build, cli, tmp_path):
    from tests.fixtures.projects import SECRET_KEY

    work = _work_copy(bridge_build[1], tmp_path)
    result = cli("--work-dir", work, "--json", "scan", "--advisories", REPO / "examples" / "advisories",
                 cwd=tmp_path, env={"B2RELEASE_SCAN_TOOL_LICENSES": "false"})
    assert_user_error(result, 1, "secret", "bridge.settings.json:3")
    failed = result.json()["details"]["failed"]
    assert [(f["path"], f["line"], f["scope"]) for f in failed] == [("bridge.settings.json", 3, "build-output")]
    everything = result.stdout + result.stderr + "".join(
        p.read_text(errors="replace") for p in work.iterdir() if p.is_file())
    assert SECRET_KEY not in everything and SECRET_KEY[:20] not in everything


def test_a_test_project_is_not_a_build_entry(cli, tmp_path):
    tests = SAMPLE / "tests" / "Enventa.Connector.Tests" / "Enventa.Connector.Tests.csproj"
    result = cli("--work-dir", tmp_path / "dist", "build", tests, "--version", "1.0.0", cwd=tmp_path)
    assert_user_error(result, 2, "Enventa.Connector.Tests.csproj is a test project",
                      "a reference to nunit.framework", "b2release test")


def test_the_sample_ships_no_test_assembly(cli, fake_tools, connector, tmp_path):
    """The fake msbuild builds the solution as given: the copy it gets lists no test project."""
    fake_tools("msbuild")
    result = _build(cli, tmp_path / "dist", str(connector), "--version", "1.0.0", "--tool", "msbuild", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert result.json()["test_projects_left_out"] == ["Enventa.Connector.Tests.csproj"]
    built = fake_tools.input_text()  # the solution the tool got: no test project, no line naming its GUID
    assert "Enventa.Connector.Tests" not in built and "C7E1F2A4" not in built
    assert "Enventa.Connector.Cli" in built and built.count("\r\n") == (connector / "Enventa.Connector.sln").read_bytes(
    ).decode().count("\r\n") - 6  # the project block (2 lines) and its 4 configuration lines; CRLF kept
    assert "Enventa.Connector.Tests" in (connector / "Enventa.Connector.sln").read_text()  # the user's file: untouched


def test_sdk_style_tests_beside_a_classic_product_do_not_decide_the_tool(cli, fake_tools, connector, tmp_path):
    """The build leaves the test project out, so xbuild (classic only) may build the rest."""
    fake_tools("xbuild")
    tests = connector / "tests" / "Enventa.Connector.Tests" / "Enventa.Connector.Tests.csproj"
    tests.write_text('<Project Sdk="Microsoft.NET.Sdk"><PropertyGroup><TargetFramework>net48</TargetFramework>'
                     '</PropertyGroup><ItemGroup><PackageReference Include="xunit" Version="2.6.2" />'
                     '<ProjectReference Include="..\\..\\src\\Enventa.Connector\\Enventa.Connector.csproj" />'
                     "</ItemGroup></Project>\n", encoding="utf-8")
    result = _build(cli, tmp_path / "dist", str(connector), "--version", "1.0.0", "--tool", "xbuild", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert result.json()["test_projects_left_out"] == ["Enventa.Connector.Tests.csproj"]
    tested = cli("--work-dir", tmp_path / "dist", "test", str(connector), "--tool", "xbuild", cwd=tmp_path)
    assert_user_error(tested, 2, "xbuild cannot build SDK-style project Enventa.Connector.Tests.csproj")
